#!/usr/bin/env bash
# Scale of configuration: one gateway with TENANTS tenants (each its own
# host and token) over UPSTREAMS http upstreams (all to one nginx origin),
# measured as an operator would meet it:
#
#   - `check-config` time;
#   - idle RSS after start, and RSS after the load below;
#   - requests/s and CPU per request to the first and to the last tenant
#     (the lookup must not depend on how many tenants there are);
#   - reload under load: SIGHUP RELOADS times while wrk runs, each reload's
#     time (from the signal until /metrics counts it), and every request
#     answered 200 (wrk's non-2xx and socket errors must be 0).
#
#   benches/scale/run.sh [BINARY]          # default: target/release/scim-gateway (built if missing)
#   TENANTS=1000 UPSTREAMS=50 benches/scale/run.sh
#
# Needs nginx, wrk and curl (Debian's packages). Everything on 127.0.0.1.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/benches/load"
TENANTS="${TENANTS:-10000}"
UPSTREAMS="${UPSTREAMS:-500}"
RELOADS="${RELOADS:-3}"
DURATION="${DURATION:-5}"
LOAD_CPU="${LOAD_CPU:-0}"
PROXY_CPU="${PROXY_CPU:-1}"
BIN="${1:-$repo/target/release/scim-gateway}"
if [[ ! -x "$BIN" ]]; then
    (cd "$repo" && cargo build --release --bin scim-gateway >&2)
fi

# shellcheck source=benches/load/common.sh
. "$here/common.sh"
ensure_tools

ORIGIN_PORT="$(free_port)"
PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
start_origin

log "writing a config with $TENANTS tenants and $UPSTREAMS upstreams"
python3 - "$work/scale.toml" "$TENANTS" "$UPSTREAMS" "$PORT" "$ADMIN_PORT" "$ORIGIN_PORT" <<'PY'
import hashlib, sys
path, tenants, upstreams, port, admin, origin = sys.argv[1:]
tenants, upstreams = int(tenants), int(upstreams)
out = [f'''[server]
listen = "127.0.0.1:{port}"
plaintext = true
max_connections_per_ip = 4096
[admin]
listen = "127.0.0.1:{admin}"
[audit]
enabled = false
''']
for u in range(upstreams):
    out.append(f'[upstreams.u{u}]\nkind = "http"\nurl = "http://127.0.0.1:{origin}/scim/v2"\n')
for t in range(tenants):
    token = f"scale-token-{t:06d}-0123456789abcdef"
    digest = hashlib.sha256(token.encode()).hexdigest()
    out.append(f'[[tenants]]\nid = "t{t}"\nhosts = ["t{t}.example"]\nupstream = "u{t % upstreams}"\n'
               f'[[tenants.tokens]]\nname = "idp"\nhash = "sha256:{digest}"\n')
open(path, "w").write("\n".join(out))
PY
token() { printf 'scale-token-%06d-0123456789abcdef' "$1"; }

start=$(date +%s%N)
"$BIN" check-config "$work/scale.toml" >"$work/check.out"
check_ms=$(( ($(date +%s%N) - start) / 1000000 ))
log "check-config: $(tail -1 "$work/check.out") in ${check_ms} ms"

RUST_LOG=warn taskset -c "$PROXY_CPU" "$BIN" run --worker-threads 1 --config "$work/scale.toml" \
    >"$work/gateway.log" 2>&1 &
GW=$!
pids+=("$GW")
wait_port "$PORT"
sleep 2
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$GW/status"; }
idle_rss=$(rss_kb)

# load NAME TENANT: wrk for DURATION against the tenant; prints "NAME rps cpu_us non2xx errors".
load() {
    local before after out requests rps non2xx errors
    before="$(cpu_ticks "$GW")"
    out="$(taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"${DURATION}s" \
        -H "Host: t$2.example" -H "Authorization: Bearer $(token "$2")" \
        "http://127.0.0.1:$PORT/scim/v2/Users/2819c223-7f76-453a-919d-413861904646")"
    after="$(cpu_ticks "$GW")"
    requests="$(awk '/requests in/ {print $1}' <<<"$out")"
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
    errors="$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")"
    awk -v n="$1" -v a="$after" -v b="$before" -v r="$requests" -v rps="$rps" \
        -v x="${non2xx:-0}" -v e="${errors:-0}" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%s %s %.2f %d %d\n", n, rps, (a - b) / hz * 1000000 / r, x, e }'
}

# Reloads counted ok so far (0 before the first).
reloads_ok() {
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk 'BEGIN { n = 0 } /^scim_gateway_config_reloads_total\{outcome="ok"\}/ { n = $2 } END { print n }'
}

first="$(load first 0)"
last="$(load last $((TENANTS - 1)))"
first2="$(load first 0)"
last2="$(load last $((TENANTS - 1)))"

# Reload under load: wrk on a middle tenant, SIGHUP every second.
mid=$((TENANTS / 2))
DURATION=$((RELOADS + 3)) load reload "$mid" >"$work/reload.load" &
loader=$!
sleep 1
: >"$work/reload.times"
for _ in $(seq 1 "$RELOADS"); do
    before="$(reloads_ok)"
    start=$(date +%s%N)
    kill -HUP "$GW"
    while [[ "$(reloads_ok)" == "$before" ]]; do
        sleep 0.01
        if (( ($(date +%s%N) - start) > 30000000000 )); then
            log "a reload did not finish within 30 s"
            exit 1
        fi
    done
    echo $(( ($(date +%s%N) - start) / 1000000 )) >>"$work/reload.times"
    sleep 1
done
wait "$loader"
loaded_rss=$(rss_kb)

python3 - "$TENANTS" "$UPSTREAMS" "$check_ms" "$idle_rss" "$loaded_rss" "$work/reload.times" \
    "$first" "$last" "$first2" "$last2" "$(cat "$work/reload.load")" <<'PY'
import statistics, sys
tenants, upstreams, check_ms, idle, loaded, times = sys.argv[1:7]
runs = [l.split() for l in sys.argv[7:11]]
reload = sys.argv[11].split()
reload_ms = [int(x) for x in open(times).read().split()]
print(f"\n{tenants} tenants, {upstreams} upstreams")
print(f"  check-config          {check_ms} ms")
print(f"  RSS idle              {int(idle) / 1024:.1f} MiB")
print(f"  RSS after the load    {int(loaded) / 1024:.1f} MiB")
for name in ("first", "last"):
    rs = [r for r in runs if r[0] == name]
    rps = statistics.median(float(r[1]) for r in rs)
    cpu = statistics.median(float(r[2]) for r in rs)
    print(f"  tenant {name:5}          {rps:9.0f} req/s  {cpu:6.2f} µs CPU/request  (non-2xx {sum(int(r[3]) for r in rs)}, errors {sum(int(r[4]) for r in rs)})")
print(f"  reloads under load    {', '.join(map(str, reload_ms))} ms (max {max(reload_ms)} ms)")
print(f"  requests meanwhile    {float(reload[1]):.0f} req/s, non-2xx {reload[3]}, socket errors {reload[4]}")
ok = int(reload[3]) == 0 and int(reload[4]) == 0
print("  ok" if ok else "  FAILED: requests failed during the reloads")
sys.exit(0 if ok else 1)
PY
