#!/usr/bin/env bash
# Two builds of scim-gateway side by side, with nginx as the yardstick:
# the same origin, the same pinning as run.sh (load generator and origin on
# CPU 0, the proxy under test alone on CPU 1, one tokio worker against one
# nginx worker), the three targets interleaved over REPS repetitions. For
# judging one change: on a shared machine, only figures taken in one run
# compare.
#
#   benches/load/ab.sh OLD_BINARY NEW_BINARY [get|post]
#   REPS=4 DURATION=5 SPLIT=user benches/load/ab.sh ...   # user time only
#
# Prints each run, then per target the median CPU per request (µs, from
# /proc: user+system, or SPLIT=user / SPLIT=system), the median requests/s
# and the ratio to nginx. Needs nginx and wrk (Debian's packages).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OLD="${1:?usage: ab.sh OLD_BINARY NEW_BINARY [get|post]}"
NEW="${2:?usage: ab.sh OLD_BINARY NEW_BINARY [get|post]}"
MODE="${3:-post}"
REPS="${REPS:-4}"
DURATION="${DURATION:-5}"
SPLIT="${SPLIT:-both}"
LOAD_CPU="${LOAD_CPU:-0}"
PROXY_CPU="${PROXY_CPU:-1}"
TOKEN="scimgw-load-token-0123456789abcdefghij"

# shellcheck source=benches/load/common.sh
. "$here/common.sh"
ensure_tools

ORIGIN_PORT="$(free_port)"
NGINX_PORT="$(free_port)"
OLD_PORT="$(free_port)"
NEW_PORT="$(free_port)"
"$OLD" dev-certs "$work/certs" --host localhost >/dev/null
start_origin
start_nginx_proxy

# start_gateway NAME BINARY PORT: the default tenant (validating, audit off).
start_gateway() {
    local hash
    hash="$(printf '%s' "$TOKEN" | "$2" hash-token)"
    {
        gateway_head "$3"
        default_tenant "$hash"
    } >"$work/$1.toml"
    RUST_LOG=warn taskset -c "$PROXY_CPU" "$2" run --worker-threads 1 --config "$work/$1.toml" \
        >"$work/$1.log" 2>&1 &
    pids+=($!)
    eval "${1^^}_PID=$!"
    wait_port "$3"
}
start_gateway old "$OLD" "$OLD_PORT"
start_gateway new "$NEW" "$NEW_PORT"

export BODY_FILE="$work/user.json"
request_target "$MODE"

ticks() {
    case "$SPLIT" in
        user) awk '{print $14}' "/proc/$1/stat" ;;
        system) awk '{print $15}' "/proc/$1/stat" ;;
        *) cpu_ticks "$1" ;;
    esac
}

# run NAME PORT PID: one measurement, "NAME cpu_us rps".
run() {
    local before after out requests rps
    before="$(ticks "$3")"
    out="$(taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"${DURATION}s" \
        -H "Authorization: Bearer $TOKEN" "${args[@]}" "https://localhost:$2$path")"
    after="$(ticks "$3")"
    requests="$(awk '/requests in/ {print $1}' <<<"$out")"
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    awk -v n="$1" -v a="$after" -v b="$before" -v r="$requests" -v rps="$rps" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%s %.2f %s\n", n, (a - b) / hz * 1000000 / r, rps }'
}

targets=("old $OLD_PORT $OLD_PID" "new $NEW_PORT $NEW_PID" "nginx $NGINX_PORT $NGINX_WORKER")
for t in "${targets[@]}"; do
    read -r _ port _ <<<"$t"
    taskset -c "$LOAD_CPU" wrk -t1 -c32 -d2s -H "Authorization: Bearer $TOKEN" "${args[@]}" \
        "https://localhost:$port$path" >/dev/null
done
for _ in $(seq 1 "$REPS"); do
    for t in "${targets[@]}"; do
        read -r name port pid <<<"$t"
        run "$name" "$port" "$pid"
    done
done | tee "$work/results"

python3 - "$work/results" "$MODE" "$SPLIT" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, cpu, rps = line.split()
    runs[name].append((float(cpu), float(rps)))
nginx = statistics.median(c for c, _ in runs["nginx"])
print(f"\n{sys.argv[2]}, CPU ({sys.argv[3]}) per request, medians:")
for name in ("old", "new", "nginx"):
    cpu = statistics.median(c for c, _ in runs[name])
    rps = statistics.median(r for _, r in runs[name])
    print(f"  {name:6} {cpu:7.2f} µs  {rps:8.0f} req/s  {cpu / nginx:.2f}x nginx")
old = statistics.median(c for c, _ in runs["old"])
new = statistics.median(c for c, _ in runs["new"])
print(f"  new - old: {new - old:+.2f} µs ({(new / old - 1) * 100:+.1f} %)")
PY
