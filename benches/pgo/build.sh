#!/usr/bin/env bash
# The profile-guided release build (PGO): the gateway built once with
# instrumentation, run through train.py's provisioning traffic, then built
# again with what that run measured, so that the compiler lays out and
# inlines the request path for how it actually runs. On the load bench
# (benches/load/README.md) it spends 12-19 % less CPU per request than
# the plain release build, and about 15 % fewer instructions.
#
#   benches/pgo/build.sh          # prints the binary's path: target/pgo/scim-gateway
#   ROUNDS=20 CONNECTIONS=4 benches/pgo/build.sh   # a shorter training
#   TRAIN_ONLY=target/debug/scim-gateway ROUNDS=5 CONNECTIONS=2 benches/pgo/build.sh
#       # the training traffic alone, through that binary (tests/it/pgo.rs)
#
# Three steps, each in its own target directory under target/pgo (or
# $CARGO_TARGET_DIR/pgo), so the plain `cargo build --release` stays as it
# is: the instrumented build (about 7 minutes of two cores from clean),
# the training (well under a minute), the final build (about 7 minutes).
# The training runs on 127.0.0.1 only: two built-in stores (one with the
# legacy extension of tests/fixtures/mapping, one without PATCH), a webhook
# receiver, and two gateways: one with the audit log off and four tenants
# (plain, mapped, PATCH emulated, limits and cache), one with the audit log
# and two tenants whose events go to the receiver (one event per POST, and
# batches). All six at once, each over several connections in parallel:
# a profile of one request at a time would mark the paths that only run
# under concurrency (the journal's and the webhooks' batches) cold, and the
# build would slow them down. Over HTTP/1.1 (train.py) and HTTP/2 (curl). Any answer other
# than the expected one fails the build: a broken training run never
# yields a profile.
#
# Needs, beyond the Rust toolchain: rustup's llvm-tools component (for
# llvm-profdata; installed here when missing: `rustup component add
# llvm-tools`), python3 and curl.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/benches/pgo"
target="${CARGO_TARGET_DIR:-$repo/target}"
out="$target/pgo"
ROUNDS="${ROUNDS:-40}"
CONNECTIONS="${CONNECTIONS:-8}"
# The work directory, its cleanup, free_port and wait_port.
# shellcheck source=benches/load/common.sh
. "$repo/benches/load/common.sh"
log() { printf 'pgo: %s\n' "$*" >&2; }
command -v curl >/dev/null || { log "curl is required"; exit 1; }
command -v python3 >/dev/null || { log "python3 is required"; exit 1; }

# stop PID: SIGTERM and wait, so that the process writes its profile.
stop() {
    kill -TERM "$1"
    wait "$1"
}

# gw_head PORT: a gateway config's listener and the two stores.
gw_head() {
    cat <<CONF
[server]
listen = "127.0.0.1:$1"
drain_delay = "0s"
[server.tls]
cert_file = "$work/certs/server.crt"
key_file = "$work/certs/server.key"
[upstreams.legacy]
kind = "http"
url = "http://127.0.0.1:$legacy_port/scim/v2"
[upstreams.nopatch]
kind = "http"
url = "http://127.0.0.1:$store_port/scim/v2"
CONF
}

# tenant ID UPSTREAM [HOST]: a tenant with the training token.
tenant() {
    printf '[[tenants]]\nid = "%s"\nupstream = "%s"\n' "$1" "$2"
    if [[ -n "${3:-}" ]]; then printf 'hosts = ["%s"]\n' "$3"; fi
    printf '[[tenants.tokens]]\nname = "pgo"\nhash = "%s"\n' "$hash"
}

# train BIN: the training traffic through BIN (the stores and the gateways
# all run BIN), each process stopped with SIGTERM so that an instrumented
# BIN writes its profile.
train() {
    local bin="$1"
    token="scimgw-pgo-token-0123456789abcdefghijkl"
    hash="$(printf '%s' "$token" | "$bin" hash-token)"
    "$bin" dev-certs "$work/certs" --host localhost >/dev/null 2>&1
    store_port="$(free_port)" legacy_port="$(free_port)" hook_port="$(free_port)"
    local plain_port audited_port
    plain_port="$(free_port)" audited_port="$(free_port)"
    "$bin" store --listen "127.0.0.1:$store_port" --no-patch >"$work/store.log" 2>&1 &
    local store_pid=$!
    pids+=("$store_pid")
    "$bin" store --listen "127.0.0.1:$legacy_port" --schemas "$repo/tests/fixtures/mapping" \
        --extend User=urn:example:legacy:2.0:User >"$work/legacy.log" 2>&1 &
    local legacy_pid=$!
    pids+=("$legacy_pid")
    # The webhook receiver: 204 to every POST.
    python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$hook_port" >"$work/hook.log" 2>&1 &
    pids+=($!)
    {
        gw_head "$plain_port"
        printf '[audit]\nenabled = false\n'
        tenant plain legacy localhost
        tenant mapped legacy
        printf '[tenants.schema]\nmapping = "%s"\n' "$repo/tests/fixtures/mapping/store-legacy.toml"
        tenant emulated nopatch
        tenant guarded legacy
        printf '[tenants.limits]\nrate = 1000000\nburst = 1000000\nmax_concurrent = 1000\n'
        printf '[tenants.cache]\nttl = "30s"\n'
    } >"$work/plain.toml"
    python3 -c 'import base64,os; print("whsec_" + base64.b64encode(os.urandom(32)).decode())' \
        >"$work/hook.secret"
    {
        gw_head "$audited_port"
        printf '[audit]\ndir = "%s"\n' "$work/audit"
        tenant audited legacy localhost
        printf '[[tenants.webhooks]]\nname = "hook"\nurl = "http://127.0.0.1:%s/hook"\n' "$hook_port"
        printf 'secret_file = ["%s"]\n' "$work/hook.secret"
        tenant batched legacy
        printf '[[tenants.webhooks]]\nname = "hook"\nurl = "http://127.0.0.1:%s/hook"\n' "$hook_port"
        printf 'secret_file = ["%s"]\nmax_batch = 64\n' "$work/hook.secret"
    } >"$work/audited.toml"
    RUST_LOG=warn "$bin" run --worker-threads 1 --config "$work/plain.toml" >"$work/plain.log" 2>&1 &
    local plain_pid=$!
    pids+=("$plain_pid")
    RUST_LOG=warn "$bin" run --worker-threads 1 --config "$work/audited.toml" >"$work/audited.log" 2>&1 &
    local audited_pid=$!
    pids+=("$audited_pid")
    local p
    for p in "$store_port" "$legacy_port" "$hook_port" "$plain_port" "$audited_port"; do
        wait_port "$p" || { tail -n 20 "$work"/*.log >&2; return 1; }
    done

    log "training ($CONNECTIONS connections per tenant, $ROUNDS rounds each)"
    p="https://127.0.0.1:$plain_port"
    local a="https://127.0.0.1:$audited_port"
    if ! python3 "$here/train.py" "$token" "$ROUNDS" "$CONNECTIONS" \
        "https://localhost:$plain_port/scim/v2" "$p/tenants/mapped/scim/v2" \
        "$p/tenants/emulated/scim/v2" "$p/tenants/guarded/scim/v2" \
        "https://localhost:$audited_port/scim/v2" "$a/tenants/batched/scim/v2" >&2; then
        log "the training run failed; logs:"
        tail -n 20 "$work"/*.log >&2
        return 1
    fi
    # HTTP/2: a list, over one connection.
    local _
    for _ in $(seq 1 200); do
        printf 'url = "https://localhost:%s/scim/v2/Users?count=5"\noutput = "/dev/null"\n' "$plain_port"
    done >"$work/h2.curl"
    curl -s --fail --http2 -k -H "Authorization: Bearer $token" -K "$work/h2.curl"
    for p in "$plain_pid" "$audited_pid" "$store_pid" "$legacy_pid"; do stop "$p"; done
}

if [[ -n "${TRAIN_ONLY:-}" ]]; then
    train "$TRAIN_ONLY"
    log "the training traffic passed"
    exit 0
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [[ ! -x "$profdata" ]]; then
    log "installing rustup's llvm-tools (llvm-profdata)"
    rustup component add llvm-tools >&2
fi

# build DIR RUSTFLAGS: the release binary into DIR. `--target` keeps the
# flags off build scripts and proc macros (they would write profiles too).
build() {
    CARGO_TARGET_DIR="$1" RUSTFLAGS="$2" cargo build --release --locked -q \
        --bin scim-gateway --target "$host" --manifest-path "$repo/Cargo.toml" >&2
    printf '%s\n' "$1/$host/release/scim-gateway"
}

mkdir -p "$out"
raw="$out/raw"
log "instrumented build"
instrumented="$(build "$out/gen" "-Cprofile-generate=$raw")"
rm -rf "$raw"
train "$instrumented"
profiles=("$raw"/*.profraw)
[[ -e "${profiles[0]}" ]] || { log "the training run wrote no profile"; exit 1; }
"$profdata" merge -o "$out/merged.profdata" "${profiles[@]}"
log "merged ${#profiles[@]} profiles"
# Named by its content: cargo fingerprints the flags, not the file they
# name, so a new profile under the old name would leave every dependency
# built with the old one.
sum="$(sha256sum "$out/merged.profdata" | cut -c1-16)"
rm -f "$out"/profile-*.profdata
mv "$out/merged.profdata" "$out/profile-$sum.profdata"

log "optimized build"
final="$(build "$out/use" "-Cprofile-use=$out/profile-$sum.profdata -Cllvm-args=-pgo-warn-missing-function=false")"
install -m 0755 "$final" "$out/scim-gateway"
log "built $out/scim-gateway"
printf '%s\n' "$out/scim-gateway"
