#!/usr/bin/env bash
# The foundation's performance targets, on SQLite and on PostgreSQL (docs/benchmarks.md):
# on a generated database of 50,000 units and 100,000 residents, start-up to ready, idle
# memory, and sign-in, owner lookup by phone and person creation under 32 concurrent
# clients; person creation is also given as a ratio of the insert baseline
# (../shared/bench/baseline) measured in the same run. Prints a markdown table.
#
#   scripts/bench.sh
#
# Environment: UNITS (50000), RESIDENTS (100000), DURATION (15s), CONNECTIONS (32),
# THREADS (2), TIMEOUT (10s: a slower answer counts as an error, not as a latency), BACKENDS ("sqlite postgres"), PORT (18431), BASELINE_PORT (13999),
# PG_URL (postgres://postgres@127.0.0.1:5432), KEEP (a folder to keep the raw wrk output in).
set -euo pipefail

cd "$(dirname "$0")/.."
UNITS=${UNITS:-50000}
RESIDENTS=${RESIDENTS:-100000}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
TIMEOUT=${TIMEOUT:-10s}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PORT=${PORT:-18431}
BASELINE_PORT=${BASELINE_PORT:-13999}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_DB=huiqian_bench
BASELINE_DIR=../shared/bench/baseline
BIN=target/release/huiqian
BASELINE_BIN=target/insert-baseline/release/insert-baseline
LUA=scripts/bench

say() { echo "bench: $*" >&2; }
now_ms() { date +%s%3N; }

if ! command -v wrk >/dev/null; then
    say "installing wrk"
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >&2; else sudo apt-get install -y wrk >&2; fi
fi
for tool in curl jq; do
    command -v "$tool" >/dev/null || { say "$tool is needed"; exit 1; }
done
if [[ " $BACKENDS " == *" postgres "* ]]; then
    command -v psql >/dev/null || { say "psql is needed for the PostgreSQL run"; exit 1; }
fi

say "building (release)"
cargo build --release --features demo --bin huiqian >&2
CARGO_TARGET_DIR=target/insert-baseline cargo build --release \
    --manifest-path "$BASELINE_DIR/Cargo.toml" >&2

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    if [[ " $BACKENDS " == *" postgres "* ]]; then
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
    fi
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$work"/*.txt "$KEEP"/ 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Server start/stop, wrk runs and the insert baseline, shared with the other benchmark.
source scripts/bench/common.sh # the working directory is the repository root (see above)

run_backend() { # sqlite|postgres
    local b=$1 data="$work/$1" base="http://127.0.0.1:$PORT"
    local args=(--data "$data")
    mkdir -p "$data"
    if [ "$b" = postgres ]; then
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" >/dev/null
        args+=(--database-url "$PG_URL/$PG_DB")
    fi

    say "$b: generating $UNITS units and $RESIDENTS residents"
    local t0
    t0=$(now_ms)
    "$BIN" "${args[@]}" bench-data --units "$UNITS" --residents "$RESIDENTS" \
        --phones "$data/phones.txt" >&2 2>"$data/generate.log"
    R[$b.generate]=$(( $(now_ms) - t0 ))

    say "$b: starting"
    t0=$(now_ms)
    "$BIN" "${args[@]}" serve --listen "127.0.0.1:$PORT" 2>"$data/serve.log" &
    server_pid=$!
    wait_for "$base/readyz"
    R[$b.ready]=$(( $(now_ms) - t0 ))
    R[$b.started]=$(grep -ao 'started in [0-9]* ms' "$data/serve.log" | awk '{print $3}' || true)
    sleep 3
    R[$b.rss]=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status")

    # An API token for the lookups and creations, made with a browser-style session.
    local jar="$data/cookies" csrf token community
    csrf=$(curl -fs -c "$jar" -H 'Content-Type: application/json' \
        -d '{"username":"bench","password":"bench-password-1"}' "$base/api/v1/auth/sign-in" | jq -r .csrf_token)
    token=$(curl -fs -b "$jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
        -d '{"name":"bench","write":true}' "$base/api/v1/me/tokens" | jq -r .secret)
    community=$(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/communities" | jq -r '.[0].id')
    local first found
    first=$(head -n1 "$data/phones.txt")
    found=$(curl -fs -H "Authorization: Bearer $token" \
        "$base/api/v1/communities/$community/persons?q=$first" | jq length)
    [ "$found" -ge 1 ] || { say "$b: lookup of $first found nobody"; return 1; }

    run_wrk "$b.signin" "$base/api/v1/auth/sign-in" "$LUA/sign_in.lua"
    TOKEN=$token PHONES="$data/phones.txt" COMMUNITY=$community \
        run_wrk "$b.lookup" "$base/" "$LUA/lookup.lua"
    TOKEN=$token COMMUNITY=$community \
        run_wrk "$b.create" "$base/" "$LUA/create_person.lua"
    R[$b.rss_after]=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status")
    R[$b.rss_peak]=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status")
    stop_server
    if [ "$b" = postgres ]; then
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null
    fi
}

run_baseline baseline1
for b in $BACKENDS; do run_backend "$b"; done
run_baseline baseline2

baseline=$(( (R[baseline1.rps] + R[baseline2.rps]) / 2 ))
ratio() { awk -v a="$1" -v b="$baseline" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

cores=$(nproc)
mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)

echo
echo "### huiqian $(git describe --always --dirty 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d)"
echo
echo "Machine: $cores cores ($cpu), $mem. Data: $UNITS units, $RESIDENTS residents."
echo "Load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $TIMEOUT --latency (latencies in ms)."
echo
line() { printf '| %s | %s |' "$1" "$2"; shift 2; printf ' %s |' "$@"; echo; }
names=() gen=() ready=() rss=() signin=() lookup=() create=() ratios=() after=() bad=() timeouts=()
for b in $BACKENDS; do
    names+=("$b")
    gen+=("$(awk -v m="${R[$b.generate]}" 'BEGIN {printf "%.1f s", m / 1000}')")
    ready+=("${R[$b.ready]} ms (self-reported ${R[$b.started]} ms)")
    rss+=("${R[$b.rss]} MiB")
    signin+=("${R[$b.signin.rps]} req/s, p50 ${R[$b.signin.p50]}, p99 ${R[$b.signin.p99]}")
    lookup+=("${R[$b.lookup.rps]} req/s, p50 ${R[$b.lookup.p50]}, p99 ${R[$b.lookup.p99]}")
    create+=("${R[$b.create.rps]} req/s, p50 ${R[$b.create.p50]}, p99 ${R[$b.create.p99]}")
    ratios+=("$(ratio "${R[$b.create.rps]}")")
    after+=("${R[$b.rss_after]} MiB (peak ${R[$b.rss_peak]} MiB)")
    bad+=("${R[$b.signin.bad]} / ${R[$b.lookup.bad]} / ${R[$b.create.bad]}")
    timeouts+=("${R[$b.signin.timeouts]} / ${R[$b.lookup.timeouts]} / ${R[$b.create.timeouts]}")
done
line "" "aim" "${names[@]}"
line "---" "---" "${names[@]//*/---}"
line "generate the data (bench-data)" "" "${gen[@]}"
line "start-up to ready (/readyz 200)" "< 300 ms" "${ready[@]}"
line "idle RSS" "< 50 MB" "${rss[@]}"
line "sign-in" "" "${signin[@]}"
line "owner lookup by phone" "p99 < 20 ms" "${lookup[@]}"
line "person creation" "" "${create[@]}"
line "person creation ÷ insert baseline" "" "${ratios[@]}"
line "RSS after the load" "" "${after[@]}"
line "non-2xx responses (sign-in / lookup / creation)" "0" "${bad[@]}"
line "timeouts (sign-in / lookup / creation)" "0" "${timeouts[@]}"
echo
echo "Insert baseline (one SQLite insert per request, POST /tickets, same wrk settings):" \
    "${R[baseline1.rps]} req/s before (p99 ${R[baseline1.p99]} ms), ${R[baseline2.rps]} req/s after" \
    "(p99 ${R[baseline2.p99]} ms); mean $baseline req/s."
