#!/usr/bin/env bash
# How the gateway scales with cores: the same GET by id through three
# shapes of the default tenant, side by side in one run:
#
#   one-worker    one process, --worker-threads 1, alone on PROXY_CPU
#   two-workers   one process, --worker-threads 2, on every CPU
#   two-procs     two processes on one port ([server] reuse_port), one
#                 worker each, one per CPU
#
# Prints requests/s and the gateway's CPU per request (all its processes,
# from /proc), and, where `perf` is installed (Debian's linux-perf; software
# counters work in VMs too), its context switches per request: a runtime
# whose workers hand requests to each other would show it there. On a 2-core machine the load generator and the origin share
# the cores with the two-core shapes, so their requests/s cannot double;
# CPU per request says whether the work per request grows with workers.
#
#   benches/load/workers.sh [BINARY]     # default target/release/scim-gateway
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
BIN="${1:-$repo/target/release/scim-gateway}"
REPS="${REPS:-3}"
DURATION="${DURATION:-5}"
LOAD_CPU="${LOAD_CPU:-0}"
PROXY_CPU="${PROXY_CPU:-1}"
TOKEN="scimgw-load-token-0123456789abcdefghij"
if [[ ! -x "$BIN" ]]; then
    (cd "$repo" && cargo build --release --bin scim-gateway >&2)
fi

# shellcheck source=benches/load/common.sh
. "$here/common.sh"
ensure_tools
ORIGIN_PORT="$(free_port)"
"$BIN" dev-certs "$work/certs" --host localhost >/dev/null
start_origin
hash="$(printf '%s' "$TOKEN" | "$BIN" hash-token)"

# config NAME PORT: a gateway config with reuse_port on.
config() {
    {
        gateway_head "$2"
        default_tenant "$hash"
    } | sed 's/^\[server\]$/[server]\nreuse_port = true/' >"$work/$1.toml"
}

# start NAME CPUS WORKERS PORT: one gateway process; prints its pid.
start() {
    config "$1" "$4"
    RUST_LOG=warn taskset -c "$2" "$BIN" run --worker-threads "$3" --config "$work/$1.toml" \
        >"$work/$1.log" 2>&1 &
    echo $!
}

one_port="$(free_port)"
two_port="$(free_port)"
procs_port="$(free_port)"
one=$(start one "$PROXY_CPU" 1 "$one_port")
two=$(start two "0,1" 2 "$two_port")
p0=$(start procs0 0 1 "$procs_port")
p1=$(start procs1 1 1 "$procs_port")
pids+=("$one" "$two" "$p0" "$p1")
for p in "$one_port" "$two_port" "$procs_port"; do wait_port "$p"; done

path="/scim/v2/Users/2819c223-7f76-453a-919d-413861904646"
# run NAME PORT PIDS...: "NAME rps cpu_us".
run() {
    local name=$1 port=$2 before=0 after=0 p out requests rps
    shift 2
    local perfpid="" plist
    plist=$(IFS=,; echo "$*")
    if command -v perf >/dev/null; then
        perf stat -x, -e context-switches -p "$plist" -o "$work/perf-$name" -- sleep "$DURATION" &
        perfpid=$!
    fi
    for p in "$@"; do before=$((before + $(cpu_ticks "$p"))); done
    out="$(wrk -t2 -c64 -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" "https://localhost:$port$path")"
    for p in "$@"; do after=$((after + $(cpu_ticks "$p"))); done
    local switches=-1
    if [[ -n "$perfpid" ]]; then
        wait "$perfpid" || true
        switches="$(awk -F, '/context-switches/ {print $1}' "$work/perf-$name")"
    fi
    requests="$(awk '/requests in/ {print $1}' <<<"$out")"
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    awk -v n="$name" -v a="$after" -v b="$before" -v r="$requests" -v rps="$rps" -v hz="$(getconf CLK_TCK)" -v cs="$switches" \
        'BEGIN { printf "%s %s %.2f %.3f\n", n, rps, (a - b) / hz * 1000000 / r, cs < 0 ? -1 : cs / r }'
}
for port in "$one_port" "$two_port" "$procs_port"; do
    wrk -t2 -c64 -d2s -H "Authorization: Bearer $TOKEN" "https://localhost:$port$path" >/dev/null
done
for _ in $(seq 1 "$REPS"); do
    run one-worker "$one_port" "$one"
    run two-workers "$two_port" "$two"
    run two-procs "$procs_port" "$p0" "$p1"
done | tee "$work/results"
python3 - "$work/results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, rps, cpu, cs = line.split()
    runs[name].append((float(rps), float(cpu), float(cs)))
base = statistics.median(r[0] for r in runs["one-worker"])
print("\nGET by id, medians:")
for name in ("one-worker", "two-workers", "two-procs"):
    rps = statistics.median(r[0] for r in runs[name])
    cpu = statistics.median(r[1] for r in runs[name])
    cs = statistics.median(r[2] for r in runs[name])
    switches = f"  {cs:5.2f} context switches/request" if cs >= 0 else ""
    print(f"  {name:12} {rps:9.0f} req/s ({rps / base:.2f}x)  {cpu:6.2f} µs CPU/request{switches}")
PY
