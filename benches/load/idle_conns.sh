#!/usr/bin/env bash
# Memory per idle TLS keep-alive connection: the resident set (VmRSS) of
# the proxy before and after N HTTP/1.1 TLS connections that each carried
# one authenticated GET and then stay open and silent, divided by N.
#   gateway  the release binary with the default tenant (common.sh), one
#            tokio worker as in run.sh
#   nginx    the TLS proxy of run.sh (one worker), when nginx is installed
# Each N gets a fresh process. All on 127.0.0.1.
#
#   benches/load/idle_conns.sh                 # COUNTS="2000 10000"
#   COUNTS=2000 TARGETS=gateway benches/load/idle_conns.sh
#   BIN=/path/to/scim-gateway TARGETS=gateway ...   # that binary, no build
#
# The bench config differs from the default in three keys only, because
# every connection comes from 127.0.0.1 and opening 10,000 takes longer
# than the timeouts: `max_connections_per_ip` (default 256) is raised to
# `max_connections`, and `idle_timeout` and `header_read_timeout` to 10
# minutes (builds before the gateway's own HTTP/1 server ran the header
# read timeout across the keep-alive wait too). `max_connections`
# keeps its default unless MAX_CONNECTIONS is set. The client needs more
# descriptors than the usual 1024: `ulimit -n` is raised to 20000 (or the
# hard limit).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/benches/load"
COUNTS="${COUNTS:-2000 10000}"
TARGETS="${TARGETS:-gateway nginx}"
LOAD_CPU="${LOAD_CPU:-0}"
PROXY_CPU="${PROXY_CPU:-1}"
TOKEN="scimgw-load-token-0123456789abcdefghij"
PATH_GET="/scim/v2/Users/2819c223-7f76-453a-919d-413861904646"

# shellcheck source=benches/load/common.sh
. "$here/common.sh"

hard="$(ulimit -Hn)"
if [[ "$hard" == unlimited ]] || ((hard >= 20000)); then ulimit -n 20000; else ulimit -n "$hard"; fi

start_gateway() {
    local port=$1 hash
    hash="$(printf '%s' "$TOKEN" | "$BIN" hash-token)"
    {
        gateway_head "$port"
        # Inserted into [server] (gateway_head opens it).
        default_tenant "$hash"
    } >"$work/gateway.toml"
    local caps="idle_timeout = \"600s\""$'\n'"header_read_timeout = \"600s\""
    if [[ -n "${MAX_CONNECTIONS:-}" ]]; then
        caps+=$'\n'"max_connections = $MAX_CONNECTIONS"$'\n'"max_connections_per_ip = $MAX_CONNECTIONS"
    else
        caps+=$'\n'"max_connections_per_ip = 4096"
    fi
    python3 - "$work/gateway.toml" "$caps" <<'PY'
import sys
path, caps = sys.argv[1], sys.argv[2]
text = open(path).read().replace("[server]\n", "[server]\n" + caps + "\n", 1)
open(path, "w").write(text)
PY
    RUST_LOG=warn taskset -c "$PROXY_CPU" "$BIN" run --worker-threads 1 --config "$work/gateway.toml" \
        >"$work/gateway.log" 2>&1 &
    PROXY_PID=$!
    pids+=($PROXY_PID)
    wait_port "$port"
}

# The TLS proxy of run.sh with room for the connections (run.sh's 4096
# worker connections would cap it).
start_nginx() {
    local port=$1
    cat >"$work/idle-proxy.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $work/idle-proxy.pid;
error_log $work/idle-proxy-error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_timeout 600s;
    keepalive_requests 1000000;
    upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $work/certs/server.crt;
        ssl_certificate_key $work/certs/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
        }
    }
}
CONF
    taskset -c "$PROXY_CPU" "$NGINX" -p "$work" -c "$work/idle-proxy.conf" &
    pids+=($!)
    local master=$!
    wait_port "$port"
    PROXY_PID="$(pgrep -P "$master" | head -1)"
}

stop_proxy() {
    local last=$((${#pids[@]} - 1))
    kill "${pids[$last]}" 2>/dev/null || true
    wait "${pids[$last]}" 2>/dev/null || true
    unset "pids[$last]"
}

main() {
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || {
        log "nginx is not installed: the origin needs it (apt-get install nginx)"
        exit 1
    }
    NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
    if [[ -z "${BIN:-}" ]]; then
        log "building the release binary"
        (cd "$repo" && cargo build --release -q)
        BIN="$repo/target/release/scim-gateway"
        [[ -n "${CARGO_TARGET_DIR:-}" ]] && BIN="$CARGO_TARGET_DIR/release/scim-gateway"
    fi
    "$BIN" dev-certs "$work/certs" --host localhost >/dev/null
    ORIGIN_PORT="$(free_port)"
    start_origin
    printf '%-8s %7s %7s %10s %10s %8s\n' target conns held rss_before rss_after KB/conn
    local n target port line
    for n in $COUNTS; do
        for target in $TARGETS; do
            port="$(free_port)"
            case "$target" in
                gateway) start_gateway "$port" ;;
                nginx) start_nginx "$port" ;;
                *) log "unknown target $target"; exit 2 ;;
            esac
            line="$(taskset -c "$LOAD_CPU" python3 "$here/idle_client.py" "$port" "$PROXY_PID" "$n" "$TOKEN" "$PATH_GET")"
            read -r _ held before after per <<<"$line"
            printf '%-8s %7s %7s %10s %10s %8s\n' "$target" "$n" "$held" "${before}K" "${after}K" "$per"
            stop_proxy
        done
    done
}

main "$@"
