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
PORT=${PORT:-18431}
PG_DB=huiqian_bench

# The shared settings, checks, builds, the work folder, the database, server start/stop, API
# tokens, wrk runs, the insert baseline and the report, shared with the other benchmarks.
source scripts/bench/common.sh # the working directory is the repository root (see above)
keep_output() { cp "$work"/*.txt "$KEEP"/ 2>/dev/null || true; }

if ! command -v wrk >/dev/null; then
    say "installing wrk"
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >&2; else sudo apt-get install -y wrk >&2; fi
fi
need curl jq
build_release baseline
start_work

run_backend() { # sqlite|postgres
    local b=$1 data="$work/$1" base="http://127.0.0.1:$PORT" args
    prepare_backend "$b" "$data"

    say "$b: generating $UNITS units and $RESIDENTS residents"
    generate "$b" --units "$UNITS" --residents "$RESIDENTS" --phones "$data/phones.txt" >&2 2>"$data/generate.log"

    say "$b: starting"
    local t0
    t0=$(now_ms)
    start_server "$data"
    R[$b.ready]=$(( $(now_ms) - t0 ))
    R[$b.started]=$(grep -ao 'started in [0-9]* ms' "$data/serve.log" | awk '{print $3}' || true)
    sleep 3
    R[$b.rss]=$(status_mib VmRSS)

    # An API token for the lookups and creations.
    local token community
    token=$(read_token "$base" bench)
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
    R[$b.rss_after]=$(status_mib VmRSS)
    R[$b.rss_peak]=$(status_mib VmHWM)
    finish_backend "$b"
}

run_backends run_backend

report_head "" "$UNITS units, $RESIDENTS residents"
names=() gen=() ready=() rss=() signin=() lookup=() create=() ratios=() after=() bad=() timeouts=()
for b in $BACKENDS; do
    names+=("$b")
    gen+=("$(awk -v m="${R[$b.generate]}" 'BEGIN {printf "%.1f s", m / 1000}')")
    ready+=("${R[$b.ready]} ms (self-reported ${R[$b.started]} ms)")
    rss+=("${R[$b.rss]} MiB")
    signin+=("$(fmt "$b.signin")")
    lookup+=("$(fmt "$b.lookup")")
    create+=("$(fmt "$b.create")")
    ratios+=("$(ratio "${R[$b.create.rps]}")")
    after+=("${R[$b.rss_after]} MiB (peak ${R[$b.rss_peak]} MiB)")
    bad+=("$(per bad "$b" signin lookup create)")
    timeouts+=("$(per timeouts "$b" signin lookup create)")
done
table_head "${names[@]}"
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
baseline_note
