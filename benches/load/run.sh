#!/usr/bin/env bash
# End-to-end load comparison, side by side in one run:
#   direct   wrk → origin                      (plain HTTP, the floor)
#   gateway  wrk → scim-gateway (TLS) → origin
#   mapped   wrk → scim-gateway (TLS), a tenant with a mapping table → origin
#   passthrough  wrk → scim-gateway (TLS), a tenant with `validate = false`
#            and no mapping: bodies forwarded as they came (the proxy path
#            without the cost of parsing and validating them)
#   guarded  wrk → scim-gateway (TLS), a tenant with limits and the cache → origin
#            (GET: cache hits after the first; POST: limits, then the origin)
#   audited  wrk → a second scim-gateway process with the audit log on and
#            the tenant's change events delivered to a webhook (the origin):
#            every POST journaled (record + event, fsync every 100 ms) and
#            delivered; the first process runs with `[audit] enabled = false`
#   audited-batch  the same as audited in a third process, its webhook
#            taking opt-in CloudEvents batches (`max_batch`, common.sh)
#   nginx    wrk → nginx (TLS, proxy_pass, keepalive) → origin
# The origin is nginx answering from its config with a ~1 KB SCIM User
# (a POST with 201, a fresh id and its Location, common.sh), so only the
# proxies differ. Fair on a 2-core machine: load generator and
# origin pinned to CPU 0, the proxy under test alone on CPU 1, the gateway
# with one tokio worker against nginx's one worker. Targets interleaved
# over REPS repetitions after a warm-up; medians with min–max.
#
#   benches/load/run.sh            # REPS=3 DURATION=10 CONNECTIONS=32
#   TARGETS="gateway nginx" SCENARIOS=post benches/load/run.sh   # a subset
#   BIN=$(benches/pgo/build.sh) benches/load/run.sh   # that binary, no build
#   RESULTS_OUT=/tmp/run1 benches/load/run.sh   # keep the raw results; then
#   python3 benches/load/report.py /tmp/run1 /tmp/run2 /tmp/run3   # several runs
#
# Needs nginx and wrk (installed from Debian's packages when missing).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/benches/load"
REPS="${REPS:-3}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
CONNECTIONS="${CONNECTIONS:-32}"
TARGETS="${TARGETS:-direct gateway passthrough mapped guarded audited nginx}"
SCENARIOS="${SCENARIOS:-get post}"
LOAD_CPU="${LOAD_CPU:-0}"
PROXY_CPU="${PROXY_CPU:-1}"
TOKEN="scimgw-load-token-0123456789abcdefghij"

# shellcheck source=benches/load/common.sh
. "$here/common.sh"

start_gateway() {
    local hash
    hash="$(printf '%s' "$TOKEN" | "$BIN" hash-token)"
    {
        gateway_head "$GATEWAY_PORT"
        cat <<CONF

# The baseline has no audit log; the "audited" target measures it.
[audit]
enabled = false

[[tenants]]
id = "load"
hosts = ["localhost"]
upstream = "origin"
[[tenants.tokens]]
name = "load"
hash = "$hash"

# The same upstream behind a mapping table, by path on a host no tenant
# owns (https://127.0.0.1:PORT/tenants/mapped/scim/v2/...).
[[tenants]]
id = "mapped"
upstream = "origin"
[[tenants.tokens]]
name = "load"
hash = "$hash"
[tenants.schema]
mapping = "$MAPPING_TABLE"

# No validation, no mapping: bodies pass untouched.
[[tenants]]
id = "passthrough"
upstream = "origin"
[[tenants.tokens]]
name = "load"
hash = "$hash"
[tenants.schema]
validate = false

# Limits (never reached: the cost of checking them) and the response cache.
[[tenants]]
id = "guarded"
upstream = "origin"
[[tenants.tokens]]
name = "load"
hash = "$hash"
[tenants.limits]
rate = 1000000
burst = 1000000
principal_rate = 1000000
max_concurrent = 10000
[tenants.cache]
ttl = "30s"
CONF
    } >"$work/gateway.toml"
    RUST_LOG=warn taskset -c "$PROXY_CPU" "$BIN" run --worker-threads 1 --config "$work/gateway.toml" \
        >"$work/gateway.log" 2>&1 &
    GATEWAY_PID=$!
    pids+=($GATEWAY_PID)
    wait_port "$GATEWAY_PORT"
}

# The same gateway with the audit log and a webhook sink for the tenant's
# events (the origin answers the deliveries with 200); with "batch", the
# webhook takes batches (the audited-batch target).
start_audited_gateway() {
    local hash name=audited port=$AUDITED_PORT max_batch=""
    if [[ "${1:-}" == batch ]]; then
        name=audited-batch port=$AUDITED_BATCH_PORT max_batch=$AUDITED_MAX_BATCH
    fi
    hash="$(printf '%s' "$TOKEN" | "$BIN" hash-token)"
    {
        gateway_head "$port"
        audited_tenant "$hash" "$work/$name" $max_batch
    } >"$work/$name.toml"
    RUST_LOG=warn taskset -c "$PROXY_CPU" "$BIN" run --worker-threads 1 --config "$work/$name.toml" \
        >"$work/$name.log" 2>&1 &
    if [[ -n "$max_batch" ]]; then AUDITED_BATCH_PID=$!; else AUDITED_PID=$!; fi
    pids+=($!)
    wait_port "$port"
}

# run_wrk TARGET-URL SECONDS [extra wrk args]: prints "requests rps p50_us p99_us".
run_wrk() {
    local url=$1 secs=$2
    shift 2
    local out
    out="$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency \
        -H "Authorization: Bearer $TOKEN" "$@" "$url")"
    local requests rps p50 p99 non2xx
    requests="$(awk '/requests in/ {print $1}' <<<"$out")"
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
    p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
    non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
    if [[ -n "$non2xx" ]]; then
        log "warning: $non2xx non-2xx responses from $url"
    fi
    echo "$requests $rps $(to_us "$p50") $(to_us "$p99")"
}

to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; gsub(/[0-9.]/, "", u);
        if (u == "us") print n; else if (u == "ms") print n * 1000; else if (u == "s") print n * 1000000; else print n }'
}

# drain NAME: for an audited target, waits (at most 120 s) until its
# webhook's cursor reaches the last event written, so the deliveries the
# sink had not made when wrk stopped are counted too; prints the seconds
# it took.
drain() {
    local started=$SECONDS
    [[ "$1" == audited* ]] || { echo 0; return; }
    webhook_caught_up "$work/$1"
    echo $((SECONDS - started))
}

# cpu_per_request AFTER BEFORE REQUESTS: µs of CPU per request.
cpu_per_request() {
    awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (n > 0) printf "%.2f", (a - b) / hz * 1000000 / n; else print 0 }'
}

# measure NAME URL PID WRK-ARGS...: one run; appends to $work/results.
# An audited target's CPU counts until its webhook caught up (drain): a
# sink that falls behind under load would otherwise leave the cost of the
# deliveries it defers out of the measure.
measure() {
    local name=$1 scenario=$2 url=$3 pid=$4
    shift 4
    local before after r
    before="$( [[ $pid -gt 0 ]] && cpu_ticks "$pid" || echo 0)"
    r="$(run_wrk "$url" "$DURATION" "$@")"
    after="$( [[ $pid -gt 0 ]] && cpu_ticks "$pid" || echo 0)"
    local requests rps p50 p99 cpu_us waited drained
    read -r requests rps p50 p99 <<<"$r"
    cpu_us="$(cpu_per_request "$after" "$before" "$requests")"
    waited="$(drain "$name")"
    drained="$( [[ $pid -gt 0 ]] && cpu_ticks "$pid" || echo 0)"
    if [[ "$waited" -gt 0 || "$drained" != "$after" ]] && [[ "$name" == audited* ]]; then
        log "$scenario $name: cpu/req ${cpu_us}us when wrk stopped; its webhook caught up ${waited}s later"
        cpu_us="$(cpu_per_request "$drained" "$before" "$requests")"
    fi
    echo "$scenario $name $rps $p50 $p99 $cpu_us" >>"$work/results"
    log "$scenario $name: ${rps} req/s p50 ${p50}us p99 ${p99}us cpu/req ${cpu_us}us"
}

main() {
    ensure_tools
    if [[ -z "${BIN:-}" ]]; then
        log "building the release binary"
        (cd "$repo" && cargo build --release -q)
        BIN="$repo/target/release/scim-gateway"
        [[ -n "${CARGO_TARGET_DIR:-}" ]] && BIN="$CARGO_TARGET_DIR/release/scim-gateway"
    fi
    log "measuring $BIN"
    "$BIN" dev-certs "$work/certs" --host localhost >/dev/null

    ORIGIN_PORT="$(free_port)"
    NGINX_PORT="$(free_port)"
    GATEWAY_PORT="$(free_port)"
    AUDITED_PORT="$(free_port)"
    AUDITED_BATCH_PORT="$(free_port)"
    AUDITED_BATCH_PID=0
    start_origin
    start_nginx_proxy
    start_gateway
    start_audited_gateway
    if [[ " $TARGETS " == *" audited-batch "* ]]; then
        start_audited_gateway batch
    fi
    export BODY_FILE="$work/user.json"

    local id=2819c223-7f76-453a-919d-413861904646
    declare -A urls=(
        [direct]="http://127.0.0.1:$ORIGIN_PORT/scim/v2/Users"
        [gateway]="https://localhost:$GATEWAY_PORT/scim/v2/Users"
        [mapped]="https://127.0.0.1:$GATEWAY_PORT/tenants/mapped/scim/v2/Users"
        [guarded]="https://127.0.0.1:$GATEWAY_PORT/tenants/guarded/scim/v2/Users"
        [passthrough]="https://127.0.0.1:$GATEWAY_PORT/tenants/passthrough/scim/v2/Users"
        [audited]="https://localhost:$AUDITED_PORT/scim/v2/Users"
        [audited-batch]="https://localhost:$AUDITED_BATCH_PORT/scim/v2/Users"
        [nginx]="https://localhost:$NGINX_PORT/scim/v2/Users"
    )
    declare -A cpu_pid=([direct]=0 [gateway]=$GATEWAY_PID [mapped]=$GATEWAY_PID [guarded]=$GATEWAY_PID [passthrough]=$GATEWAY_PID [audited]=$AUDITED_PID [audited-batch]=$AUDITED_BATCH_PID [nginx]=$NGINX_WORKER)

    log "warm-up ${WARMUP}s per target"
    for t in $TARGETS; do
        run_wrk "${urls[$t]}/$id" "$WARMUP" >/dev/null
    done
    : >"$work/results"
    for rep in $(seq 1 "$REPS"); do
        log "repetition $rep/$REPS"
        for t in $TARGETS; do
            if [[ " $SCENARIOS " == *" get "* ]]; then
                measure "$t" get "${urls[$t]}/$id" "${cpu_pid[$t]}"
            fi
            if [[ " $SCENARIOS " == *" post "* ]]; then
                measure "$t" post "${urls[$t]}" "${cpu_pid[$t]}" -s "$here/post.lua"
            fi
        done
    done
    python3 "$here/report.py" "$work/results"
    if [[ -n "${RESULTS_OUT:-}" ]]; then
        cp "$work/results" "$RESULTS_OUT"
    fi
    local t records
    for t in audited audited-batch; do
        if [[ " $TARGETS " == *" $t "* ]]; then
            records="$(cat "$work/$t"/audit-*.jsonl | wc -l)"
            log "$t: $records audit records written; $("$BIN" audit verify "$work/$t" | head -c 200)"
        fi
    done
}

main "$@"
