#!/usr/bin/env bash
# Latency tail at a fixed open-loop rate (issue 21, item 6): the p99 that
# the gateway adds over the origin alone, with requests sent on a schedule
# whatever the answers do, and each latency counted from the time its
# request was due (corrected for coordinated omission).
#
#   benches/load/tail.sh                 # RATE=10000 DURATION=8 REPS=3: about 2.5 min
#   TARGETS="direct gateway mapped audited nginx" benches/load/tail.sh
#   BIN=/path/to/scim-gateway benches/load/tail.sh    # a given build, no cargo build
#   benches/load/tail.sh check           # proves the generator is open loop (see below)
#   RT=1 benches/load/tail.sh            # generator, origin and proxies at real-time priority
#
# Targets as run.sh's: direct (the nginx origin, plain HTTP), gateway (the
# default tenant, TLS), nginx (TLS proxy_pass); optionally mapped and
# audited (run.sh's tenants). Scenarios: GET by id and POST User. Same
# pinning as run.sh: generator and origin on CPU 0, the proxy under test
# alone on CPU 1, the gateway with one tokio worker. Targets interleaved
# over REPS; per target the median over REPS of the achieved rate and the
# p50/p99/p99.9, and the p99 added over direct (the median of each
# repetition's difference, so the pairs share the machine's moment), and
# how long the server under test (the origin's worker for direct) waited
# in a run queue for its CPU, in ms per s of the run: near 0 when it has
# its core, tens to hundreds when other work on the machine takes it.
#
# The generator is oha (crates.io) with `-q RATE --latency-correction`: a
# timer task queues one request every 1/RATE s into an unbounded queue,
# CONNECTIONS keep-alive connections take them, and each latency runs from
# the moment the request was queued, so a stall of the target shows in
# every request that waited behind it. Installed once, pinned, into
# ~/.cache/scim-gateway/oha (cargo install --locked; about 5 min).
# Two things every target pays alike: tokio's timer ticks in ms, so the
# requests of one ms leave together (10 at 10k req/s) and the last of a
# burst waits for the ones before it; and connections open lazily, so the
# TLS handshakes of the CONNECTIONS connections fall in the first ms of
# each run (in the p99.9 of the TLS targets, 0.1 % being 80 requests of
# a default run, not in their p99).
#
# RT=1 runs the generator, the origin and the proxies under test with the
# SCHED_RR real-time policy (priority 50, all equal), so that other work on
# a shared machine (builds) cannot take their CPUs for a scheduler slice
# of several ms: the tail then shows the proxies, not the neighbours.
# Without it the figures are the machine's as it is.
#
# `check` runs the direct target for 6 s and stops the origin's worker
# (SIGSTOP) for 100 ms at 3 s, corrected and uncorrected: at 10k req/s about
# 1,000 requests fall due during the stall, 2 % of the run, so the corrected
# p99 must show it (tens of ms); the uncorrected one only counts the
# CONNECTIONS requests in flight. It fails when the corrected p99 stays
# under 20 ms.
#
# Needs nginx and wrk (Debian's packages) and cargo for oha.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/benches/load"
MODE="${1:-measure}"
RATE="${RATE:-10000}"
DURATION="${DURATION:-8}"
REPS="${REPS:-3}"
WARMUP="${WARMUP:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
TARGETS="${TARGETS:-direct gateway nginx}"
SCENARIOS="${SCENARIOS:-get post}"
LOAD_CPU="${LOAD_CPU:-0}"
PROXY_CPU="${PROXY_CPU:-1}"
RT="${RT:-0}"
OHA_VERSION="1.16.0"
OHA_ROOT="${OHA_ROOT:-$HOME/.cache/scim-gateway/oha}"
TOKEN="scimgw-load-token-0123456789abcdefghij"

# shellcheck source=benches/load/common.sh
. "$here/common.sh"

# rt: the command prefix that runs a process at real-time priority (RT=1).
rt=()
((RT)) && rt=(chrt -r 50)

# realtime PID...: with RT=1, every thread of each PID (and its children:
# nginx's workers) to real-time priority.
realtime() {
    ((RT)) || return 0
    local p c
    for p in "$@"; do
        for c in "$p" $(pgrep -P "$p"); do chrt -a -r -p 50 "$c" >/dev/null; done
    done
}

ensure_oha() {
    OHA="$OHA_ROOT/bin/oha"
    if [[ ! -x "$OHA" ]] || [[ "$("$OHA" --version)" != *"$OHA_VERSION"* ]]; then
        log "installing oha $OHA_VERSION into $OHA_ROOT (once)"
        CARGO_TARGET_DIR="$OHA_ROOT/build" cargo install -q --locked --version "$OHA_VERSION" \
            --root "$OHA_ROOT" oha
        rm -rf "$OHA_ROOT/build"
    fi
}

# The default tenant on localhost and run.sh's mapped tenant by path.
start_gateway() {
    local hash
    hash="$(printf '%s' "$TOKEN" | "$BIN" hash-token)"
    {
        gateway_head "$GATEWAY_PORT"
        default_tenant "$hash"
        cat <<CONF
[[tenants]]
id = "mapped"
upstream = "origin"
[[tenants.tokens]]
name = "load"
hash = "$hash"
[tenants.schema]
mapping = "$MAPPING_TABLE"
CONF
    } >"$work/gateway.toml"
    RUST_LOG=warn "${rt[@]}" taskset -c "$PROXY_CPU" "$BIN" run --worker-threads 1 --config "$work/gateway.toml" \
        >"$work/gateway.log" 2>&1 &
    pids+=($!)
    GATEWAY_PID=$!
    wait_port "$GATEWAY_PORT"
}

# run.sh's audited gateway: the audit log, and the tenant's events to a
# webhook on the origin.
start_audited_gateway() {
    local hash
    hash="$(printf '%s' "$TOKEN" | "$BIN" hash-token)"
    {
        gateway_head "$AUDITED_PORT"
        audited_tenant "$hash" "$work/audit"
    } >"$work/audited.toml"
    RUST_LOG=warn "${rt[@]}" taskset -c "$PROXY_CPU" "$BIN" run --worker-threads 1 --config "$work/audited.toml" \
        >"$work/audited.log" 2>&1 &
    pids+=($!)
    AUDITED_PID=$!
    wait_port "$AUDITED_PORT"
}

# runq_ns PID: nanoseconds the process's threads have waited in a run
# queue for a CPU (schedstat), summed: how much the neighbours took.
runq_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $2} END {printf "%.0f", s}'
}

# run_oha OUT URL SECONDS SCENARIO [oha args]: one fixed-rate run, oha's
# JSON summary in OUT. One oha runtime thread: the generator has CPU 0 only.
run_oha() {
    local out=$1 url=$2 secs=$3 scenario=$4
    shift 4
    local args=(-z "${secs}s" -q "$RATE" -c "$CONNECTIONS" --no-tui --output-format json
        --worker-threads 1 --insecure --ipv4 -H "Authorization: Bearer $TOKEN")
    if [[ "$scenario" == post ]]; then
        args+=(-m POST -T application/scim+json -D "$work/user.json")
    fi
    "${rt[@]}" taskset -c "$LOAD_CPU" "$OHA" "${args[@]}" "$@" "$url" >"$out"
}

# summary FILE: "rps p50_us p99_us p999_us non2xx" from oha's JSON.
summary() {
    python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["latencyPercentiles"]
us = lambda k: (p.get(k) or 0) * 1e6
bad = sum(n for code, n in r["statusCodeDistribution"].items() if not code.startswith("2"))
# Requests still in flight when the run ends are cut off: not failures.
bad += sum(n for e, n in r["errorDistribution"].items() if e != "aborted due to deadline")
print(f'{r["summary"]["requestsPerSec"]:.0f} {us("p50"):.0f} {us("p99"):.0f} {us("p99.9"):.0f} {bad}')
PY
}

check() {
    local id=2819c223-7f76-453a-919d-413861904646 worker corrected plain
    worker="$(pgrep -P "$(cat "$work/origin.pid")" | head -1)"
    local url="http://127.0.0.1:$ORIGIN_PORT/scim/v2/Users/$id"
    for how in corrected plain; do
        local extra=()
        [[ $how == corrected ]] && extra=(--latency-correction)
        run_oha "$work/check.$how" "$url" 6 get "${extra[@]}" &
        local gen=$!
        sleep 3
        kill -STOP "$worker"
        sleep 0.1
        kill -CONT "$worker"
        wait "$gen"
        read -r rps p50 p99 p999 bad <<<"$(summary "$work/check.$how")"
        log "check, $how: $rps req/s, p50 ${p50}us p99 ${p99}us p99.9 ${p999}us, $bad failed"
        printf -v "$how" '%s' "$p99"
    done
    if ((corrected < 20000)); then
        log "FAIL: a 100 ms stall left the corrected p99 at ${corrected}us: the generator is not open loop"
        exit 1
    fi
    log "ok: the stall shows in the corrected p99 (${corrected}us; uncorrected ${plain}us)"
}

main() {
    ensure_tools
    ensure_oha
    if [[ -z "${BIN:-}" ]]; then
        log "building the release binary"
        (cd "$repo" && cargo build --release -q)
        BIN="${CARGO_TARGET_DIR:-$repo/target}/release/scim-gateway"
    fi
    "$BIN" dev-certs "$work/certs" --host localhost >/dev/null
    ORIGIN_PORT="$(free_port)"
    NGINX_PORT="$(free_port)"
    GATEWAY_PORT="$(free_port)"
    AUDITED_PORT="$(free_port)"
    start_origin
    realtime "$(cat "$work/origin.pid")"
    if [[ "$MODE" == check ]]; then
        check
        return
    fi
    start_nginx_proxy
    realtime "$(cat "$work/proxy-$NGINX_PORT.pid")"
    start_gateway
    [[ " $TARGETS " == *" audited "* ]] && start_audited_gateway

    local id=2819c223-7f76-453a-919d-413861904646
    declare -A urls=(
        [direct]="http://127.0.0.1:$ORIGIN_PORT/scim/v2/Users"
        [gateway]="https://localhost:$GATEWAY_PORT/scim/v2/Users"
        [mapped]="https://127.0.0.1:$GATEWAY_PORT/tenants/mapped/scim/v2/Users"
        [audited]="https://localhost:$AUDITED_PORT/scim/v2/Users"
        [nginx]="https://localhost:$NGINX_PORT/scim/v2/Users"
    )
    ((RT)) && log "RT=1: generator, origin and proxies at SCHED_RR priority 50"
    # Whose run-queue wait a run reports: the server under test.
    local origin_worker
    origin_worker="$(pgrep -P "$(cat "$work/origin.pid")" | head -1)"
    declare -A server=([direct]=$origin_worker [gateway]=$GATEWAY_PID [mapped]=$GATEWAY_PID
        [audited]=${AUDITED_PID:-0} [nginx]=$NGINX_WORKER)
    log "warm-up ${WARMUP}s per target and scenario; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    for t in $TARGETS; do
        for s in $SCENARIOS; do
            local u="${urls[$t]}"
            [[ $s == get ]] && u="$u/$id"
            run_oha "$work/warm" "$u" "$WARMUP" "$s" --latency-correction
        done
    done
    : >"$work/results"
    for rep in $(seq 1 "$REPS"); do
        log "repetition $rep/$REPS"
        for t in $TARGETS; do
            for s in $SCENARIOS; do
                local u="${urls[$t]}"
                [[ $s == get ]] && u="$u/$id"
                local before after waited
                before="$(runq_ns "${server[$t]}")"
                run_oha "$work/out" "$u" "$DURATION" "$s" --latency-correction
                after="$(runq_ns "${server[$t]}")"
                waited="$(awk -v a="$after" -v b="$before" -v d="$DURATION" 'BEGIN {printf "%.1f", (a - b) / 1e6 / d}')"
                read -r rps p50 p99 p999 bad <<<"$(summary "$work/out")"
                ((bad > 0)) && log "warning: $bad failed or non-2xx answers from $t"
                echo "$rep $s $t $rps $p50 $p99 $p999 $waited" >>"$work/results"
                log "$s $t: $rps req/s p50 ${p50}us p99 ${p99}us p99.9 ${p999}us, run queue ${waited} ms/s"
            done
        done
    done
    log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 "$here/tail_report.py" "$work/results" "$RATE"
}

main "$@"
