//! The small values every section is made of, checked and reported with
//! their location: addresses, durations, positive counts, paths relative
//! to the config file, and secrets read from the environment or a file.
use super::Problems;
use crate::secret::Secret;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A secret from exactly one of an environment variable or a file.
pub(super) fn secret(
    env: Option<&str>,
    file: Option<&str>,
    base_dir: &Path,
    p: &mut Problems,
    loc: &str,
    what: &str,
) -> Option<Secret> {
    match (env, file) {
        (Some(var), None) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(Secret::new(v)),
            _ => {
                p.add(
                    format!("{loc}.{what}_env"),
                    format!("environment variable {var} is not set or empty"),
                );
                None
            }
        },
        (None, Some(f)) => {
            let path = resolve(base_dir, f);
            match std::fs::read_to_string(&path) {
                Ok(v) if !v.trim_end_matches(['\n', '\r']).is_empty() => {
                    Some(Secret::new(v.trim_end_matches(['\n', '\r']).to_string()))
                }
                Ok(_) => {
                    p.add(
                        format!("{loc}.{what}_file"),
                        format!("{} is empty", path.display()),
                    );
                    None
                }
                Err(e) => {
                    p.add(
                        format!("{loc}.{what}_file"),
                        format!("cannot read {}: {e}", path.display()),
                    );
                    None
                }
            }
        }
        _ => {
            p.add(loc, format!("set exactly one of {what}_env or {what}_file"));
            None
        }
    }
}

pub(super) fn addr(p: &mut Problems, loc: &str, s: &str) -> Option<SocketAddr> {
    s.parse()
        .map_err(|_| {
            p.add(
                loc,
                format!("\"{s}\" is not an address such as \"127.0.0.1:8443\""),
            )
        })
        .ok()
}

pub(super) fn duration(
    p: &mut Problems,
    loc: &str,
    s: Option<&str>,
    default: &str,
) -> Option<Duration> {
    let s = s.unwrap_or(default);
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Some(d),
        _ => {
            p.add(
                loc,
                format!("\"{s}\" is not a positive duration such as \"10s\" or \"250ms\""),
            );
            None
        }
    }
}

pub(super) fn positive(p: &mut Problems, loc: &str, v: Option<usize>, default: usize) -> usize {
    match v {
        Some(0) => {
            p.add(loc, "must be greater than 0");
            default
        }
        Some(n) => n,
        None => default,
    }
}

pub(super) fn resolve(base_dir: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

/// A duration that may be zero (`"0s"` turns the thing off).
pub(super) fn duration_or_zero(
    p: &mut Problems,
    loc: &str,
    s: Option<&str>,
    default: &str,
) -> Option<std::time::Duration> {
    let s = s.unwrap_or(default);
    match humantime::parse_duration(s) {
        Ok(d) => Some(d),
        Err(_) => {
            p.add(
                loc,
                format!("\"{s}\" is not a duration such as \"30s\" or \"5m\""),
            );
            None
        }
    }
}
