#!/usr/bin/env bash
# Installs cargo-fuzz (the `cargo fuzz` subcommand driving libFuzzer) for the
# fuzz targets under fuzz/: `cargo install cargo-fuzz --locked`, into a cache
# directory outside the clone so every checkout reuses one build.
#
#   tests/support/install-cargo-fuzz.sh   # prints the cargo-fuzz binary path on stdout
#
# Where: ${CARGO_FUZZ_ROOT:-${SCIM_GATEWAY_CACHE:-$HOME/.cache/scim-gateway}/cargo-fuzz}
# (cargo install --root), binary at $root/bin/cargo-fuzz.
# Version: ${CARGO_FUZZ_VERSION:-0.13.2} (pinned).
# Build dir: ${CARGO_FUZZ_TARGET_DIR:-/tmp/target-cargo-fuzz} (never the
# project's target dir); the compile runs under `nice`.
# Idempotent: a stamp file holding the version makes a re-run a no-op; a failed
# install leaves no stamp. Concurrent runs serialise on a lock file. Progress
# goes to stderr; stdout carries only the binary path.
# cargo-fuzz itself builds with the stable toolchain; the fuzz targets need
# nightly (`cargo +nightly fuzz ...`, see fuzz/run.sh). A first build takes
# 2-4 minutes on two cores.
set -euo pipefail

version="${CARGO_FUZZ_VERSION:-0.13.2}"
cache="${SCIM_GATEWAY_CACHE:-$HOME/.cache/scim-gateway}"
root="${CARGO_FUZZ_ROOT:-$cache/cargo-fuzz}"
target_dir="${CARGO_FUZZ_TARGET_DIR:-/tmp/target-cargo-fuzz}"
bin="$root/bin/cargo-fuzz"
stamp="$root/.cargo-fuzz-stamp"
want="cargo-fuzz $version"

log() { printf 'install-cargo-fuzz: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v cargo >/dev/null 2>&1 || die "no cargo on PATH"
mkdir -p "$root"

# Serialise concurrent installs into the same root.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$root.lock"
    flock -w 1800 9 || die "timed out waiting for the lock $root.lock"
fi

if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "$bin"
    exit 0
fi

log "building $want into $root (target dir $target_dir); this takes a few minutes"
rm -f "$stamp"
nice_cmd=()
command -v nice >/dev/null 2>&1 && nice_cmd=(nice -n 10)
CARGO_TARGET_DIR="$target_dir" "${nice_cmd[@]}" cargo install cargo-fuzz \
    --version "=$version" --locked --root "$root" --force >&2 \
    || die "cargo install cargo-fuzz $version failed"

[[ -x "$bin" ]] || die "$bin is missing after the install"
"$bin" fuzz --version >&2 || die "$bin does not run"

echo "$want" >"$stamp"
log "done"
echo "$bin"
