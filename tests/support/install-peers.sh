#!/usr/bin/env bash
# Installs the third-party SCIM peers the tests drive (scim2-tester, scim2-client,
# scim2-cli, scim2-server) into a Python venv, pinned by peers-requirements.txt.
#
#   tests/support/install-peers.sh        # prints the venv path on stdout
#
# Where: ${SCIM_PEERS_VENV:-${CARGO_TARGET_DIR:-<repo>/target}/peers-venv}.
# Python: ${PYTHON:-python3} (CPython >= 3.10 with the venv module).
# Idempotent: a stamp file holding the hash of the requirements and of the
# interpreter makes a re-run a no-op; a failed install leaves no stamp, so the
# next run starts over. Concurrent runs (several test binaries, several
# checkouts sharing one target dir) serialise on a lock file.
# Progress goes to stderr; stdout carries only the venv path.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
requirements="$here/peers-requirements.txt"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
venv="${SCIM_PEERS_VENV:-$target_dir/peers-venv}"
python="${PYTHON:-python3}"
stamp="$venv/.peers-stamp"

log() { printf 'install-peers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The console scripts and modules the Rust harness (tests/support/peers.rs) uses.
entry_points=(scim scim2-server)
modules=(scim2_tester scim2_client.engines.httpx2 scim2_models scim2_server httpx2)

command -v "$python" >/dev/null 2>&1 || die "no '$python' on PATH (set PYTHON=/path/to/python3)"
[[ -f "$requirements" ]] || die "missing $requirements"

mkdir -p "$(dirname "$venv")"

# Serialise concurrent installs into the same venv.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv.lock"
    flock -w 600 9 || die "timed out waiting for the lock $venv.lock"
fi

python_id="$("$python" -c 'import sys, platform; print(platform.python_implementation(), sys.version.split()[0], sys.executable)')" \
    || die "'$python' does not run"
want="$( { cat "$requirements" "${BASH_SOURCE[0]}"; echo "$python_id"; } | sha256sum | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "$venv"
    exit 0
fi

log "installing the SCIM peers into $venv ($python_id)"
# A venv made by another interpreter, or left half-made, is rebuilt from scratch;
# but never delete a directory that is not a venv (SCIM_PEERS_VENV may be a typo).
if [[ -e "$venv" ]]; then
    [[ -f "$venv/pyvenv.cfg" ]] || die "$venv exists and is not a Python venv; remove it or set SCIM_PEERS_VENV"
    rm -rf "$venv"
fi
"$python" -m venv "$venv" >&2 || die "could not create the venv (is python3-venv installed?)"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
"$venv/bin/python" -m pip install --quiet --requirement "$requirements" >&2 \
    || die "pip install -r $requirements failed"

for ep in "${entry_points[@]}"; do
    [[ -x "$venv/bin/$ep" ]] || die "entry point $venv/bin/$ep is missing after the install"
done
for m in "${modules[@]}"; do
    "$venv/bin/python" -c "import $m" || die "python module $m does not import"
done
"$venv/bin/python" -m pip check >&2 || die "pip check reports broken requirements"

echo "$want" >"$stamp"
log "done"
echo "$venv"
