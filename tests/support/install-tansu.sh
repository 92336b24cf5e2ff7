#!/usr/bin/env bash
# Installs tansu (an Apache Kafka compatible broker written in Rust) for the
# Kafka sink tests: `cargo install tansu --locked --features dynostore,libsql`,
# into a cache directory outside the clone so every checkout reuses one build.
# dynostore: the in-memory storage most tests use; libsql: SQLite storage, the
# only one (with PostgreSQL) where tansu keeps SCRAM credentials, for the
# SASL/SCRAM tests.
#
#   tests/support/install-tansu.sh        # prints the tansu binary path on stdout
#
# Where: ${TANSU_ROOT:-${SCIM_GATEWAY_CACHE:-$HOME/.cache/scim-gateway}/tansu}
# (cargo install --root), binary at $root/bin/tansu.
# Version: ${TANSU_VERSION:-0.6.0} (pinned: the tests rely on its flags).
# Build dir: ${TANSU_TARGET_DIR:-/tmp/target-tansu} (never the project's target
# dir: the broker is a large build); the compile runs under `nice`.
# Idempotent: a stamp file holding the version and features makes a re-run a
# no-op; a failed install leaves no stamp. Concurrent runs serialise on a lock
# file. Progress goes to stderr; stdout carries only the binary path.
# A first build takes 10-30 minutes on two cores (libsql compiles SQLite).
set -euo pipefail

version="${TANSU_VERSION:-0.6.0}"
features="dynostore,libsql"
cache="${SCIM_GATEWAY_CACHE:-$HOME/.cache/scim-gateway}"
root="${TANSU_ROOT:-$cache/tansu}"
target_dir="${TANSU_TARGET_DIR:-/tmp/target-tansu}"
bin="$root/bin/tansu"
stamp="$root/.tansu-stamp"
want="tansu $version features=$features"

log() { printf 'install-tansu: %s\n' "$*" >&2; }
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

log "building $want into $root (target dir $target_dir); this takes several minutes"
rm -f "$stamp"
nice_cmd=()
command -v nice >/dev/null 2>&1 && nice_cmd=(nice -n 10)
CARGO_TARGET_DIR="$target_dir" "${nice_cmd[@]}" cargo install tansu \
    --version "=$version" --locked --features "$features" --root "$root" --force >&2 \
    || die "cargo install tansu $version failed"

[[ -x "$bin" ]] || die "$bin is missing after the install"
"$bin" --version >&2 || die "$bin does not run"

echo "$want" >"$stamp"
log "done"
echo "$bin"
