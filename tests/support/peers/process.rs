//! Child processes with a deadline: the harness never waits on a peer forever.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What a finished child printed, and how it ended.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to completion with stdin closed, capturing stdout and stderr;
/// kills it and returns `Err` (with what it printed so far) once `timeout` passes.
pub fn run_bounded(mut cmd: Command, timeout: Duration) -> Result<Finished, String> {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                kill(&mut child);
                break Err(format!(
                    "{shown} timed out after {timeout:?} and was killed"
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                kill(&mut child);
                break Err(format!("cannot wait for {shown}: {e}"));
            }
        }
    };
    let stdout = join(stdout);
    let stderr = join(stderr);
    match status {
        Ok(status) => Ok(Finished {
            status,
            stdout,
            stderr,
        }),
        Err(why) => Err(format!("{why}\n--- stdout\n{stdout}\n--- stderr\n{stderr}")),
    }
}

/// Kills a child and reaps it; a child that already exited is fine.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<String>> {
    pipe.map(|mut pipe| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
}

fn join(reader: Option<JoinHandle<String>>) -> String {
    reader
        .map(|r| {
            r.join()
                .unwrap_or_else(|_| "<reader thread panicked>".to_owned())
        })
        .unwrap_or_default()
}

/// The last `LogTail::CAPACITY` bytes a long-running child printed, kept so a
/// failing test can show a server's log; draining also keeps the child from
/// blocking on a full pipe.
#[derive(Clone, Default)]
pub struct LogTail(Arc<Mutex<String>>);

impl LogTail {
    const CAPACITY: usize = 256 * 1024;

    /// Copies `pipe` into the tail on a background thread until it closes.
    pub fn follow(&self, pipe: Option<impl Read + Send + 'static>) {
        let Some(mut pipe) = pipe else { return };
        let tail = self.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                tail.push(&String::from_utf8_lossy(buf.get(..n).unwrap_or_default()));
            }
        });
    }

    fn push(&self, text: &str) {
        let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        log.push_str(text);
        if log.len() > Self::CAPACITY {
            let mut cut = log.len() - Self::CAPACITY;
            while !log.is_char_boundary(cut) {
                cut += 1;
            }
            log.drain(..cut);
        }
    }

    pub fn text(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
