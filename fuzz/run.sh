#!/usr/bin/env bash
# Builds the fuzz targets (one shared `cargo fuzz build`) and runs each for a
# time or a number of runs over its committed corpus, then prints a table:
# target, runs, crashes, corpus size. docs/testing.md has the details.
#
#   fuzz/run.sh                      # every target, 60 s each
#   fuzz/run.sh --time 4             # a short run
#   fuzz/run.sh --runs 1000000 filter patch
#   fuzz/run.sh --runs 100000 --seed 1   # the CI smoke run: the same inputs every time
#   fuzz/run.sh --time 3600 --work ~/fuzz-work h1   # keep what it finds
#   fuzz/run.sh --merge --work ~/fuzz-work          # minimized into fuzz/corpus/
#   fuzz/run.sh --list
#
# Options:
#   --time S     seconds per target (default 60)
#   --runs N     inputs per target instead of a time
#   --seed S     libFuzzer's random seed (default: a new one each run); with
#                --runs, a run makes the same inputs on every machine
#   --work DIR   where new inputs go (DIR/<target>/); default a temporary
#                directory, removed at the end. fuzz/corpus/ is only read.
#   --merge      no fuzzing: merge DIR/<target>/ into fuzz/corpus/<target>/,
#                keeping the fewest inputs that reach the same code edges
#                (libFuzzer -set_cover_merge=1 -use_counters=0: hit counts
#                aside, so the committed corpora stay a few hundred files)
#   --cmin       no fuzzing: minimize fuzz/corpus/<target>/ in place
#   --no-build   use the binaries already built
#   --jobs N     targets run side by side (default 1)
# Environment: FUZZ_TARGET_DIR (default fuzz/target), FUZZ_NICE (default 10),
# FUZZ_CACHE_MAX_MB (default 8000: a bigger FUZZ_TARGET_DIR is removed
# before the build).
# A crash stops that target's run; its input is saved under
# fuzz/artifacts/<target>/ and the target starts again for the time left
# (at most 5 crashes a target). Exit status 1 when any target crashed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
targets_all=(filter patch path route json_scan validate bulk scim11 mapping jwt h1 h1_server config proxy_header forwarded shadow)

time_s=60
runs=""
seed=""
work=""
mode=fuzz
build=1
jobs=1
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --time) time_s="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        --merge) mode=merge; shift ;;
        --cmin) mode=cmin; shift ;;
        --no-build) build=0; shift ;;
        --jobs) jobs="$2"; shift 2 ;;
        --list) printf '%s\n' "${targets_all[@]}"; exit 0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${targets_all[@]}")
for t in "${targets[@]}"; do
    [[ -f "$here/fuzz_targets/$t.rs" ]] || { echo "run.sh: no target $t (see --list)" >&2; exit 2; }
done

target_dir="${FUZZ_TARGET_DIR:-$here/target}"
nice_cmd=()
command -v nice >/dev/null 2>&1 && nice_cmd=(nice -n "${FUZZ_NICE:-10}")

# The build directory is a cache that cargo never prunes: each change of
# the toolchain, a profile or the dependencies leaves a whole set of
# artifacts behind (about 4 GB a set). Past FUZZ_CACHE_MAX_MB (default
# 8000) it starts over; a build from nothing takes about 4 minutes here.
if [[ $build -eq 1 && -d "$target_dir" ]]; then
    used_mb="$(du -sm "$target_dir" | cut -f1)"
    if ((used_mb > ${FUZZ_CACHE_MAX_MB:-8000})); then
        echo "run.sh: $target_dir holds ${used_mb} MB (over ${FUZZ_CACHE_MAX_MB:-8000}): starting it over" >&2
        rm -rf "$target_dir"
    fi
fi

if [[ $build -eq 1 ]]; then
    cargo +nightly --version >/dev/null 2>&1 \
        || { echo "run.sh: the fuzz targets need the nightly toolchain (rustup toolchain install nightly)" >&2; exit 2; }
    cargo_fuzz="$("$root/tests/support/install-cargo-fuzz.sh")"
    start=$SECONDS
    # One build for every target: release with debug assertions and
    # overflow checks. No sanitizer: the crate forbids unsafe code, and
    # ASan would halve the runs a machine of two cores can make.
    (cd "$here" && PATH="$(dirname "$cargo_fuzz"):$PATH" "${nice_cmd[@]}" cargo +nightly fuzz build \
        --sanitizer none --codegen-units 16 --target-dir "$target_dir") >&2
    echo "run.sh: fuzz build took $((SECONDS - start)) s" >&2
fi
bin_dir="$target_dir/x86_64-unknown-linux-gnu/release"

cleanup_work=""
if [[ -z "$work" ]]; then
    work="$(mktemp -d)"
    cleanup_work="$work"
fi
trap '[[ -n "$cleanup_work" ]] && rm -rf "$cleanup_work"' EXIT

count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l | tr -d ' '; }

if [[ $mode != fuzz ]]; then
    for t in "${targets[@]}"; do
        corpus="$here/corpus/$t"
        mkdir -p "$corpus"
        before=$(count "$corpus")
        if [[ $mode == merge ]]; then
            [[ -d "$work/$t" ]] || continue
            # Into a fresh directory, then replace: set-cover merging keeps
            # the fewest inputs that reach every edge of both.
            tmp="$(mktemp -d)"
            "${nice_cmd[@]}" "$bin_dir/$t" -set_cover_merge=1 -use_counters=0 -rss_limit_mb=4096 "$tmp" "$corpus" "$work/$t" \
                >/dev/null 2>&1
            rm -f "$corpus"/*
            cp "$tmp"/* "$corpus"/ 2>/dev/null || true
            rm -rf "$tmp"
        else
            tmp="$(mktemp -d)"
            "${nice_cmd[@]}" "$bin_dir/$t" -set_cover_merge=1 -use_counters=0 -rss_limit_mb=4096 "$tmp" "$corpus" >/dev/null 2>&1
            rm -f "$corpus"/*
            cp "$tmp"/* "$corpus"/ 2>/dev/null || true
            rm -rf "$tmp"
        fi
        echo "$t: $before -> $(count "$corpus") inputs"
    done
    exit 0
fi

# run_target T: fuzzes T, restarting after a crash, and writes
# "runs crashes" to $work/$t.result.
run_target() {
    local t="$1"
    local new="$work/$t" artifacts="$here/artifacts/$t" log="$work/$t.log"
    mkdir -p "$new" "$artifacts"
    local total=0 crashes=0 start=$SECONDS
    while :; do
        local limit=()
        if [[ -n "$runs" ]]; then
            local left=$((runs - total))
            [[ $left -gt 0 ]] || break
            limit=(-runs="$left")
        else
            local left=$((time_s - (SECONDS - start)))
            [[ $left -gt 0 ]] || break
            limit=(-max_total_time="$left")
        fi
        local rc=0
        [[ -z "$seed" ]] || limit+=(-seed="$seed")
        "${nice_cmd[@]}" "$bin_dir/$t" "${limit[@]}" -print_final_stats=1 -timeout=30 \
            -rss_limit_mb=4096 -artifact_prefix="$artifacts/" "$new" "$here/corpus/$t" \
            >"$log" 2>&1 || rc=$?
        local done_runs
        done_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        total=$((total + ${done_runs:-0}))
        if [[ $rc -ne 0 ]]; then
            crashes=$((crashes + 1))
            echo "run.sh: $t crashed (exit $rc); the last lines of its log:" >&2
            grep -v '^#' "$log" | tail -25 >&2
            cp "$log" "$artifacts/crash-$crashes.log"
            [[ $crashes -lt 5 ]] || break
        else
            break
        fi
    done
    echo "$total $crashes" >"$work/$t.result"
}

running=0
for t in "${targets[@]}"; do
    run_target "$t" &
    running=$((running + 1))
    if [[ $running -ge $jobs ]]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

printf '%-10s %12s %8s %8s\n' target runs crashes corpus
failed=0
for t in "${targets[@]}"; do
    read -r total crashes <"$work/$t.result" || { total=0; crashes=1; }
    corpus=$(( $(count "$here/corpus/$t") + $(count "$work/$t") ))
    printf '%-10s %12s %8s %8s\n' "$t" "$total" "$crashes" "$corpus"
    [[ $crashes -eq 0 ]] || failed=1
done
exit $failed
