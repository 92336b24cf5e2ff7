#!/usr/bin/env bash
# Two builds of scim-gateway compared by instructions per request, counted
# by valgrind's callgrind: unlike CPU time, a count does not move with
# whatever else the shared machine is doing, so a change of a few hundred
# instructions per request shows where ab.sh's microseconds drown in noise.
#
#   benches/load/instructions.sh OLD_BINARY NEW_BINARY [get|post]
#   benches/load/instructions.sh nginx NEW_BINARY [get|post]   # against nginx
#   N=2000 benches/load/instructions.sh ...
#   TENANT=mapped benches/load/instructions.sh ...   # default|mapped|audited|audited-batch
#   NEW_CONFIG='[telemetry.traces]
#   endpoint = "http://127.0.0.1:ORIGIN_PORT/v1/traces"' benches/load/instructions.sh ...
#
# TENANT: the tenant both gateways serve, as run.sh's targets: "default"
# (validating, audit off), "mapped" (the same behind run.sh's mapping
# table) or "audited" (the audit log on and the tenant's change events
# delivered to a webhook on the origin, which answers 201).
# HTTP: 1.1 (the default, what wrk speaks in run.sh) or 2.
# KEEP_DIR: where to keep the callgrind dumps (for callgrind_annotate).
# NEW_CONFIG: TOML appended to the new gateway's config only (ORIGIN_PORT
# is replaced by the origin's port; the origin answers any POST with 201,
# so it serves as a trace receiver that costs the gateway nothing more).
#
# Each gateway (the default tenant of ab.sh, one worker thread) runs under
# callgrind against the same nginx origin. curl sends WARM requests, the
# counters are zeroed, curl sends N more over one keep-alive TLS connection,
# and the counters are dumped: instructions per request are the dump's
# total over N (the gateway's own work only; curl and nginx are outside).
# "nginx" in place of a binary counts run.sh's nginx TLS proxy the same
# way (one process: `master_process off`), in front of the same origin;
# TENANT does not apply to it.
# Needs nginx (Debian's package), valgrind and curl.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OLD="${1:?usage: instructions.sh OLD_BINARY NEW_BINARY [get|post]}"
NEW="${2:?usage: instructions.sh OLD_BINARY NEW_BINARY [get|post]}"
MODE="${3:-get}"
TENANT="${TENANT:-default}"
N="${N:-1000}"
WARM="${WARM:-200}"
LOAD_CPU="${LOAD_CPU:-0}"
PROXY_CPU="${PROXY_CPU:-1}"
TOKEN="scimgw-load-token-0123456789abcdefghij"

# shellcheck source=benches/load/common.sh
. "$here/common.sh"
ensure_tools
command -v valgrind >/dev/null || apt-get install -y -q valgrind >/dev/null
command -v curl >/dev/null || apt-get install -y -q curl >/dev/null

ORIGIN_PORT="$(free_port)"
gateway_bin="$NEW"
[[ "$NEW" == nginx ]] && gateway_bin="$OLD"
"$gateway_bin" dev-certs "$work/certs" --host localhost >/dev/null
start_origin

url="https://localhost:PORT/scim/v2/Users"
# HTTP/1.1 as wrk speaks it in run.sh (HTTP=2 for the HTTP/2 path).
if [[ "${HTTP:-1.1}" == 2 ]]; then http_flag=--http2; else http_flag=--http1.1; fi
curl_args=(-s --fail "$http_flag" --cacert "$work/certs/ca.crt" -H "Authorization: Bearer $TOKEN")
if [[ "$MODE" == post ]]; then
    curl_args+=(-H "Content-Type: application/scim+json" --data-binary "@$work/user.json")
else
    url="$url/2819c223-7f76-453a-919d-413861904646"
fi

# requests PORT COUNT: COUNT requests over one connection (curl reuses it
# for every URL of one invocation).
requests() {
    local cfg="$work/urls.$1.$2"
    local u="${url/PORT/$1}"
    for _ in $(seq 1 "$2"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$u"; done >"$cfg"
    taskset -c "$LOAD_CPU" curl "${curl_args[@]}" -K "$cfg" >/dev/null
}

# tenant_config NAME HASH: the tenant of $TENANT for the gateway NAME.
tenant_config() {
    case "$TENANT" in
        default) default_tenant "$2" ;;
        mapped)
            default_tenant "$2"
            printf '[tenants.schema]\nmapping = "%s"\n' "$MAPPING_TABLE"
            ;;
        audited) audited_tenant "$2" "$work/audit-$1" ;;
        audited-batch) audited_tenant "$2" "$work/audit-$1" "$AUDITED_MAX_BATCH" ;;
        *)
            log "TENANT must be default, mapped, audited or audited-batch"
            exit 2
            ;;
    esac
}

# count NAME BINARY: prints "NAME instructions_per_request".
count() {
    local port hash pid out ir
    port="$(free_port)"
    out="$work/$1.callgrind"
    if [[ "$2" == nginx ]]; then
        nginx_proxy_conf "$port" "master_process off;" >"$work/$1.conf"
        taskset -c "$PROXY_CPU" valgrind --tool=callgrind --callgrind-out-file="$out.%p" \
            "$NGINX" -p "$work" -c "$work/$1.conf" >"$work/$1.log" 2>&1 &
        pid=$!
    else
        hash="$(printf '%s' "$TOKEN" | "$2" hash-token)"
        {
            gateway_head "$port"
            tenant_config "$1" "$hash"
            if [[ "$1" == new && -n "${NEW_CONFIG:-}" ]]; then
                printf '%s\n' "${NEW_CONFIG//ORIGIN_PORT/$ORIGIN_PORT}"
            fi
        } >"$work/$1.toml"
        RUST_LOG=warn taskset -c "$PROXY_CPU" valgrind --tool=callgrind --callgrind-out-file="$out.%p" \
            "$2" run --worker-threads 1 --config "$work/$1.toml" >"$work/$1.log" 2>&1 &
        pid=$!
    fi
    pids+=("$pid")
    for _ in $(seq 1 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    requests "$port" "$WARM"
    callgrind_control --zero "$pid" >/dev/null
    requests "$port" "$N"
    callgrind_control --dump "$pid" >/dev/null
    ir="$(ls "$out.$pid".* 2>/dev/null | while read -r f; do
        awk '/^summary:|^totals:/ {print $2; exit}' "$f"
    done | sort -n | tail -1)"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [[ -n "${KEEP_DIR:-}" ]]; then
        mkdir -p "$KEEP_DIR"
        cp "$out.$pid".* "$KEEP_DIR/" 2>/dev/null || true
    fi
    awk -v n="$1" -v ir="$ir" -v r="$N" 'BEGIN { printf "%s %.0f\n", n, ir / r }'
}

old="$(count old "$OLD")"
new="$(count new "$NEW")"
printf '%s\n%s\n' "$old" "$new"
python3 - "$old" "$new" "$MODE" "$N" "$TENANT" <<'PY'
import sys
old = float(sys.argv[1].split()[1])
new = float(sys.argv[2].split()[1])
print(f"\n{sys.argv[3]} ({sys.argv[5]} tenant), instructions per request over {sys.argv[4]} requests:")
print(f"  old {old:12.0f}\n  new {new:12.0f}\n  new - old: {new - old:+.0f} ({(new / old - 1) * 100:+.2f} %)")
PY
