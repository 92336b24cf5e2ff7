# Shared by the load scripts and benches/pgo/build.sh (sourced, not run): tools, ports, the work
# directory and its cleanup, the nginx origin and the nginx proxy under
# comparison, and the head of the gateway's config. Expects `here`,
# `LOAD_CPU` and `PROXY_CPU`; the starters expect `ORIGIN_PORT` and
# `NGINX_PORT`, and set `NGINX_WORKER`.

log() { printf 'load: %s\n' "$*" >&2; }

ensure_tools() {
    local missing=()
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} from Debian's packages"
        apt-get install -y -q "${missing[@]}" >/dev/null
    fi
    NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

work="$(mktemp -d /tmp/scimgw-load.XXXXXX)"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

wait_port() {
    local port=$1 i
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    log "nothing listens on $port"
    return 1
}

# Sum of user+system CPU ticks of a process.
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# start_origin: the origin on $ORIGIN_PORT, nginx answering any request
# from its own config: a POST (a create) with 201, a fresh id (nginx's
# $request_id, 32 hex digits) in the User's `id` and `meta.location` and
# that location as `Location`, as a SCIM server answers one (RFC 7644
# §3.3); anything else with 200 and the User of user.json as it is (the
# GET by id). Fresh ids matter beyond realism: the events of one resource
# are delivered in order, one in flight at a time, so creates that all
# named the same id would make a per-event webhook sink deliver one
# round trip after another, a case no provisioning run produces.
start_origin() {
    sed "s/ORIGIN_PORT/$ORIGIN_PORT/" "$here/user.json" >"$work/user.json"
    local body created id=2819c223-7f76-453a-919d-413861904646
    body="$(sed 's/\\/\\\\/g; s/'"'"'/\\'"'"'/g' "$work/user.json")"
    created="${body//$id/\$request_id}"
    # user.json must name that id, or every create would again answer one.
    if [[ "$created" == "$body" ]]; then
        log "user.json does not hold the id $id that creates replace"
        exit 2
    fi
    cat >"$work/origin.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/origin.pid;
error_log $work/origin-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$ORIGIN_PORT reuseport;
        location / {
            default_type application/scim+json;
            if (\$request_method = POST) {
                add_header Location "http://127.0.0.1:$ORIGIN_PORT/scim/v2/Users/\$request_id" always;
                return 201 '$created';
            }
            return 200 '$body';
        }
    }
}
CONF
    taskset -c "$LOAD_CPU" "$NGINX" -p "$work" -c "$work/origin.conf" &
    pids+=($!)
    wait_port "$ORIGIN_PORT"
}

# nginx_proxy_conf PORT [MAIN-DIRECTIVES]: the config of the nginx TLS
# proxy under comparison (one worker, proxy_pass with upstream keep-alive
# to the origin), listening on PORT; MAIN-DIRECTIVES go in its main
# context (instructions.sh adds `master_process off;`).
nginx_proxy_conf() {
    cat <<CONF
worker_processes 1;
daemon off;
${2:-}
pid $work/proxy-$1.pid;
error_log $work/proxy-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$1 ssl http2;
        ssl_certificate $work/certs/server.crt;
        ssl_certificate_key $work/certs/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$remote_addr;
        }
    }
}
CONF
}

start_nginx_proxy() {
    nginx_proxy_conf "$NGINX_PORT" >"$work/proxy.conf"
    taskset -c "$PROXY_CPU" "$NGINX" -p "$work" -c "$work/proxy.conf" &
    pids+=($!)
    wait_port "$NGINX_PORT"
    NGINX_WORKER="$(pgrep -P "$(cat "$work/proxy-$NGINX_PORT.pid")" | head -1)"
}

# The head of a gateway config: the listener on port $1 with the dev
# certificate, and the origin as upstream "origin". Callers add [audit]
# and their tenants.
gateway_head() {
    cat <<CONF
[server]
listen = "127.0.0.1:$1"
[server.tls]
cert_file = "$work/certs/server.crt"
key_file = "$work/certs/server.key"

[upstreams.origin]
kind = "http"
url = "http://127.0.0.1:$ORIGIN_PORT/scim/v2"
CONF
}

# default_tenant HASH: after gateway_head, the default tenant the load
# scripts compare (validating, audit off) with the token hash HASH.
default_tenant() {
    cat <<CONF
[audit]
enabled = false
[[tenants]]
id = "load"
hosts = ["localhost"]
upstream = "origin"
[[tenants.tokens]]
name = "load"
hash = "$1"
CONF
}

# The mapping table of the "mapped" targets (a tenant's `[tenants.schema]
# mapping`).
MAPPING_TABLE="$here/../../tests/fixtures/mapping/store-legacy.toml"

# audited_tenant HASH AUDIT_DIR [MAX_BATCH]: after gateway_head, the
# "audited" target's tenant: the audit log in AUDIT_DIR, the tenant on
# localhost with the token hash HASH, and its change events delivered to a
# webhook on the origin (which answers 201), one event per POST, or with
# MAX_BATCH (the "audited-batch" target) as CloudEvents batches of up to
# that many. Writes the webhook's secret into $work.
audited_tenant() {
    python3 -c 'import base64,os; print("whsec_" + base64.b64encode(os.urandom(32)).decode())' \
        >"$work/webhook.secret"
    cat <<CONF
[audit]
dir = "$2"
[[tenants]]
id = "audited"
hosts = ["localhost"]
upstream = "origin"
[[tenants.tokens]]
name = "load"
hash = "$1"
[[tenants.webhooks]]
name = "sync"
url = "http://127.0.0.1:$ORIGIN_PORT/hook"
secret_file = ["$work/webhook.secret"]
CONF
    if [[ -n "${3:-}" ]]; then
        printf 'max_batch = %s\n' "$3"
    fi
}

# The batch size of the "audited-batch" targets.
AUDITED_MAX_BATCH=256

# webhook_caught_up AUDIT_DIR: waits (at most 120 s) until the webhook's
# cursor in AUDIT_DIR reaches the last event written (every audited POST
# writes one), so that a measure counts the deliveries the sink had not
# made when wrk stopped.
webhook_caught_up() {
    local dir=$1 started=$SECONDS events cursor
    events="$(cat "$dir"/audit-*.jsonl 2>/dev/null | wc -l)"
    while ((SECONDS - started < 120)); do
        cursor="$(cat "$dir"/outbox/cursors/* 2>/dev/null || echo 0)"
        ((cursor >= events)) && return 0
        sleep 0.2
    done
}

# request_target MODE: sets `path` and `args` (wrk's) for MODE, `get` (the
# fixed User by id) or `post` (creates from $BODY_FILE through post.lua).
request_target() {
    path=/scim/v2/Users
    args=()
    if [[ "$1" == post ]]; then
        args=(-s "$here/post.lua")
    else
        path="$path/2819c223-7f76-453a-919d-413861904646"
    fi
}
