#!/usr/bin/env bash
# Two targets measured at the same time, for a ratio that the shared
# machine's drift cannot move: run.sh and ab.sh measure one target after
# another, so a host that slows down between two runs moves their ratio
# (±20 % here); two gateways loaded together share every moment of it.
#
#   benches/load/paired.sh BIN_A BIN_B [get|post]
#   A=default B=audited-batch benches/load/paired.sh BIN BIN post  # target 3
#   REPS=6 DURATION=5 benches/load/paired.sh ...
#
# A and B: the tenant each gateway serves, as run.sh's targets: default
# (validating, audit off; the default for both), audited-batch (the audit
# log on, the tenant's events delivered to a webhook on the origin in
# batches of up to AUDITED_MAX_BATCH) or audited (one event per delivery).
#
# Both gateways run on PROXY_CPU (one worker thread each), both wrk
# (one connection set of 32 each) and the origin on LOAD_CPU. Each
# repetition starts the two wrk together, the first one alternating
# between A and B (the one started first gets ahead by a few percent).
# An audited target's CPU counts until its webhook caught up, as in
# run.sh. CPU per request is from /proc (user + system).
#
# The gateways share one CPU, so each gets about half of it and its
# batches are those of that load: the ratio is the same kind of figure as
# run.sh's, measured under other conditions, not the same number. Prints
# each repetition, then the median B/A and its range.
# Needs nginx and wrk (Debian's packages).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN_A="${1:?usage: paired.sh BIN_A BIN_B [get|post]}"
BIN_B="${2:?usage: paired.sh BIN_A BIN_B [get|post]}"
MODE="${3:-post}"
A="${A:-default}"
B="${B:-default}"
REPS="${REPS:-6}"
DURATION="${DURATION:-5}"
LOAD_CPU="${LOAD_CPU:-0}"
PROXY_CPU="${PROXY_CPU:-1}"
TOKEN="scimgw-load-token-0123456789abcdefghij"

# shellcheck source=benches/load/common.sh
. "$here/common.sh"
ensure_tools

ORIGIN_PORT="$(free_port)"
"$BIN_A" dev-certs "$work/certs" --host localhost >/dev/null
start_origin

# start SIDE BINARY TENANT: one gateway serving TENANT; sets SIDE_PID and
# SIDE_PORT.
start() {
    local side=$1 bin=$2 tenant=$3 hash port
    port="$(free_port)"
    hash="$(printf '%s' "$TOKEN" | "$bin" hash-token)"
    {
        gateway_head "$port"
        case "$tenant" in
            default) default_tenant "$hash" ;;
            audited) audited_tenant "$hash" "$work/$side" ;;
            audited-batch) audited_tenant "$hash" "$work/$side" "$AUDITED_MAX_BATCH" ;;
            *)
                echo "paired.sh: unknown tenant $tenant (default, audited, audited-batch)" >&2
                exit 2
                ;;
        esac
    } >"$work/$side.toml"
    RUST_LOG=warn taskset -c "$PROXY_CPU" "$bin" run --worker-threads 1 --config "$work/$side.toml" \
        >"$work/$side.log" 2>&1 &
    pids+=($!)
    eval "${side^^}_PID=$!"
    eval "${side^^}_PORT=$port"
    wait_port "$port"
}
start a "$BIN_A" "$A"
start b "$BIN_B" "$B"

export BODY_FILE="$work/user.json"
request_target "$MODE"

# caught_up SIDE: an audited side's webhook caught up (a side without an
# audit directory has nothing to wait for).
caught_up() {
    [[ -d "$work/$1" ]] || return 0
    webhook_caught_up "$work/$1"
}

# load SIDE SECONDS: wrk against one side, its output in $work/SIDE.wrk.
load() {
    local port
    port="$(eval echo "\$${1^^}_PORT")"
    taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"${2}s" -H "Authorization: Bearer $TOKEN" \
        "${args[@]}" "https://localhost:$port$path" >"$work/$1.wrk"
}

# pair FIRST SECOND: both loaded together; prints "cpu_a cpu_b" (µs per
# request).
pair() {
    local a0 b0 a1 b1 w1 w2 ra rb
    a0="$(cpu_ticks "$A_PID")"
    b0="$(cpu_ticks "$B_PID")"
    load "$1" "$DURATION" &
    w1=$!
    load "$2" "$DURATION" &
    w2=$!
    wait "$w1" "$w2"
    caught_up a
    caught_up b
    a1="$(cpu_ticks "$A_PID")"
    b1="$(cpu_ticks "$B_PID")"
    ra="$(awk '/requests in/ {print $1}' "$work/a.wrk")"
    rb="$(awk '/requests in/ {print $1}' "$work/b.wrk")"
    awk -v a0="$a0" -v a1="$a1" -v b0="$b0" -v b1="$b1" -v ra="$ra" -v rb="$rb" \
        -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.2f %.2f\n", (a1 - a0) / hz * 1e6 / ra, (b1 - b0) / hz * 1e6 / rb }'
}

# Warm-up.
load a 2 &
w=$!
load b 2
wait "$w"
for i in $(seq 1 "$REPS"); do
    if ((i % 2)); then r="$(pair a b)"; else r="$(pair b a)"; fi
    read -r ca cb <<<"$r"
    echo "$ca $cb" >>"$work/results"
    awk -v i="$i" -v a="$ca" -v b="$cb" -v first="$( ((i % 2)) && echo A || echo B)" \
        'BEGIN { printf "rep %d (%s first): A %.2f µs  B %.2f µs  B/A %.3f\n", i, first, a, b, b / a }'
done

python3 - "$work/results" "$MODE" "$A" "$B" <<'PY'
import statistics, sys
pairs = [tuple(map(float, line.split())) for line in open(sys.argv[1])]
ratios = sorted(b / a for a, b in pairs)
a = statistics.median(p[0] for p in pairs)
b = statistics.median(p[1] for p in pairs)
print(f"\n{sys.argv[2]}, A {sys.argv[3]} {a:.2f} µs, B {sys.argv[4]} {b:.2f} µs (medians)")
print(f"  B/A {statistics.median(ratios):.3f} (median of {len(ratios)}; {ratios[0]:.3f}-{ratios[-1]:.3f})")
PY
