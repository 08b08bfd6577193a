#!/usr/bin/env bash
# The countersign-sheet benchmark, on SQLite and on PostgreSQL (docs/benchmarks.md): on a
# generated database of 1,000,000 sheets over 20 communities and two years (with 50,000
# units and 100,000 residents), registration over HTTP, the chase queue, the archive
# search (漏水 and a phone suffix), the sheet page, the engineering dispatcher's repair
# board and the technician's day under 32 concurrent clients, the weekly statistics table
# and a year of staff performance under 4, and the scheduler's cost
# per tick. Registration is also given as a ratio of the insert
# baseline (../shared/bench/baseline) measured in the same run. Prints a markdown table.
#
#   scripts/bench-sheets.sh
#   SHEETS=20000 DURATION=5s scripts/bench-sheets.sh     # a quick try
#
# Environment: SHEETS (1000000), COMMUNITIES (20), UNITS (50000), RESIDENTS (100000),
# DURATION (15s), CONNECTIONS (32), THREADS (2), TIMEOUT (10s), TICKS (5),
# BACKENDS ("sqlite postgres"), PORT (18431), BASELINE_PORT (13999),
# PG_URL (postgres://postgres@127.0.0.1:5432), KEEP (a folder to keep the raw output in).
set -euo pipefail

cd "$(dirname "$0")/.."
SHEETS=${SHEETS:-1000000}
COMMUNITIES=${COMMUNITIES:-20}
UNITS=${UNITS:-50000}
RESIDENTS=${RESIDENTS:-100000}
TICKS=${TICKS:-5}
PORT=${PORT:-18431}
PG_DB=huiqian_bench_sheets
LEAK=%E6%BC%8F%E6%B0%B4 # 漏水, URL-encoded

# The shared settings, checks, builds, the work folder, the database, server start/stop, API
# tokens, wrk runs, the insert baseline and the report, shared with the other benchmarks.
source scripts/bench/common.sh # the working directory is the repository root (see above)
keep_output() {
    cp "$work"/*.txt "$KEEP"/ 2>/dev/null || true
    for b in $BACKENDS; do
        for f in "$work/$b"/*.txt "$work/$b"/*.log; do [ -e "$f" ] && cp "$f" "$KEEP/$b-${f##*/}"; done
    done
}

command -v wrk >/dev/null || { say "wrk is needed (scripts/bench.sh installs it)"; exit 1; }
need curl jq
build_release baseline
start_work

# The plans of the board's and the day's queries (src/store/request.rs: board, late_open,
# technician_loads, technician_day) for community $2 and technician $3, at time $4.
explain_repairs() { # backend community technician now_ms
    local b=$1 c=$2 t=$3 now=$4 sql
    # The repair lists' select (the board, late arrivals, the day): no departments join.
    local job="SELECT r.sheet_id, s.number, u.room_no, f.display_name, tu.display_name FROM requests r
      JOIN sheets s ON s.id = r.sheet_id LEFT JOIN units u ON u.id = s.unit_id JOIN users f ON f.id = s.first_contact_id
      LEFT JOIN users tu ON tu.id = r.technician_id"
    local open="r.technician_id IS NOT NULL AND r.completed_at IS NULL AND r.closed = 0"
    local queries=(
        "board|$job WHERE r.community_id = $c AND r.class_rank IS NOT NULL AND r.technician_id IS NULL AND r.closed = 0
          ORDER BY r.class_rank, r.opened_at, r.sheet_id LIMIT 30 OFFSET 0"
        "board_total|SELECT COUNT(*) FROM requests r WHERE r.community_id = $c AND r.class_rank IS NOT NULL
          AND r.technician_id IS NULL AND r.closed = 0"
        "late_open|$job WHERE r.sheet_id IN (SELECT l.sheet_id FROM requests l WHERE l.technician_id IN
          (SELECT ur.user_id FROM user_roles ur WHERE ur.community_id = $c AND ur.role = 'technician')
          AND l.technician_id IS NOT NULL AND l.completed_at IS NULL AND l.closed = 0 AND l.arrived_at IS NULL
          AND l.arrival_due_at < $now AND +l.community_id = $c ORDER BY l.arrival_due_at, l.sheet_id LIMIT 20)
          ORDER BY r.arrival_due_at, r.sheet_id"
        "technician_loads|SELECT u.id, (SELECT COUNT(*) FROM requests r WHERE r.technician_id = u.id AND r.completed_at IS NULL
          AND r.closed = 0) FROM users u WHERE u.active = 1 AND u.id IN (SELECT ur.user_id FROM user_roles ur
          WHERE ur.community_id = $c AND ur.role = 'technician')"
        "day_open|$job WHERE r.technician_id = $t AND r.completed_at IS NULL AND r.closed = 0 AND r.community_id = $c
          ORDER BY r.arrival_due_at IS NULL, r.arrival_due_at, r.sheet_id LIMIT 40"
        "day_done|$job WHERE r.technician_id = $t AND r.completed_at IS NOT NULL AND r.completed_at >= $((now - 86400000))
          AND r.community_id = $c ORDER BY r.completed_at DESC LIMIT 40"
    )
    for q in "${queries[@]}"; do
        echo "== ${q%%|*}"
        sql=${q#*|}
        if [ "$b" = sqlite ]; then
            sqlite3 -readonly "$work/$b/huiqian.db" "EXPLAIN QUERY PLAN $sql"
        else
            psql -qAt "$PG_URL/$PG_DB" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $sql"
        fi
    done
}

run_backend() { # sqlite|postgres
    local b=$1 data="$work/$1" base="http://127.0.0.1:$PORT" args
    prepare_backend "$b" "$data"

    say "$b: generating $SHEETS sheets in $COMMUNITIES communities ($UNITS units, $RESIDENTS residents)"
    local t0
    generate "$b" --units "$UNITS" --residents "$RESIDENTS" --communities "$COMMUNITIES" \
        --sheets "$SHEETS" --phones "$data/phones.txt" --sheet-ids "$data/ids.txt" >"$data/generate.txt" 2>"$data/generate.log"
    cat "$data/generate.txt" >&2
    if [ "$b" = postgres ]; then
        # After a bulk load PostgreSQL has neither statistics nor a visibility map until
        # autovacuum gets to the new tables (a database that grew over two years has
        # both); without statistics it plans the archive search and the sheet page badly,
        # without the map an index-only scan still visits the table. SQLite is left as it
        # is: nothing runs ANALYZE there in production either.
        t0=$(now_ms)
        psql -q "$PG_URL/$PG_DB" -c "VACUUM (ANALYZE)" >&2
        R[$b.analyze]=$(( $(now_ms) - t0 ))
        say "postgres: VACUUM (ANALYZE) took ${R[$b.analyze]} ms"
    fi
    if [ "$b" = sqlite ]; then
        R[$b.size]=$(du -sm "$data/huiqian.db" | awk '{print $1 " MiB"}')
    else
        R[$b.size]=$(psql -tA "$PG_URL/$PG_DB" -c "SELECT pg_database_size('$PG_DB') / 1048576" | awk '{print $1 " MiB"}')
    fi

    # The scheduler, before the server runs its own: ms and rows read per tick, and the plan.
    say "$b: scheduler ticks"
    "$BIN" "${args[@]}" bench-tick --ticks "$TICKS" >"$data/tick.txt" 2>"$data/tick.log"
    cat "$data/tick.txt" >&2
    R[$b.tick1]=$(awk '/^tick 1:/ {print $3 " ms, " $5 " rows"}' "$data/tick.txt")
    R[$b.tickn]=$(awk '/^tick / && $2 != "1:" {ms += $3; rows += $5; n++} END {if (n) printf "%.2f ms, %d rows", ms / n, rows / n}' "$data/tick.txt")
    R[$b.plan]=$(awk '/^plan:/ {sub(/^plan: */, ""); printf "%s%s", sep, $0; sep = "; "}' "$data/tick.txt" | head -c 300)

    say "$b: starting"
    start_server "$data"

    # A write API token of the receptionist bench_desk (receptionist in every community).
    local token
    token=$(read_token "$base" bench_desk)
    mapfile -t communities < <(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/communities" | jq -r '.[].id')
    local first=${communities[0]}
    # The repair board as each community's engineering dispatcher (bench_dNN for the
    # community coded BNN), the day view as each of its technicians (bench_tNN_1 … _4).
    say "$b: signing in the dispatchers and technicians"
    local n line tech
    : >"$data/board.txt"; : >"$data/day.txt"
    while read -r c code; do
        local nn=${code#B}
        echo "$(read_token "$base" "bench_d$nn") /api/v1/communities/$c/repairs/board" >>"$data/board.txt"
        for k in 1 2 3 4; do
            echo "$(read_token "$base" "bench_t${nn}_$k") /api/v1/communities/$c/repairs/my-day" >>"$data/day.txt"
        done
    done < <(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/communities" | jq -r '.[] | "\(.id) \(.code)"')
    read -r line <"$data/board.txt"
    n=$(curl -fs -H "Authorization: Bearer ${line%% *}" "$base${line#* }" | jq '.unassigned | length')
    [ "$n" -ge 1 ] || { say "$b: the repair board is empty"; return 1; }
    read -r line <"$data/day.txt"
    n=$(curl -fs -H "Authorization: Bearer ${line%% *}" "$base${line#* }" | jq '.open | length')
    [ "$n" -ge 1 ] || { say "$b: the technician's day is empty"; return 1; }
    if [ "$b" = sqlite ]; then
        tech=$(sqlite3 -readonly "$data/huiqian.db" "SELECT id FROM users WHERE username = 'bench_t01_1'")
    else
        tech=$(psql -tA "$PG_URL/$PG_DB" -c "SELECT id FROM users WHERE username = 'bench_t01_1'")
    fi
    explain_repairs "$b" "$first" "$tech" "$(now_ms)" >"$data/plans.txt" 2>&1 || true
    cat "$data/plans.txt" >&2
    : >"$data/chase.txt"; : >"$data/leak.txt"; : >"$data/last4.txt"; : >"$data/pages.txt"
    for c in "${communities[@]}"; do
        echo "/api/v1/communities/$c/queues/chase" >>"$data/chase.txt"
        echo "/api/v1/communities/$c/sheets?q=$LEAK" >>"$data/leak.txt"
    done
    while read -r phone; do
        [ -n "$phone" ] && echo "/api/v1/communities/$first/sheets?phone_last4=${phone: -4}" >>"$data/last4.txt"
    done <"$data/phones.txt"
    while read -r id; do
        [ -n "$id" ] && echo "/api/v1/sheets/$id" >>"$data/pages.txt"
    done <"$data/ids.txt"
    n=$(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/communities/$first/sheets?q=$LEAK" | jq length)
    [ "$n" -ge 1 ] || { say "$b: the search for 漏水 found nothing"; return 1; }
    n=$(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/communities/$first/queues/chase" | jq length)
    [ "$n" -ge 1 ] || { say "$b: the chase queue is empty"; return 1; }

    TOKEN=$token PATHS="$data/chase.txt" run_wrk "$b.chase" "$base/" "$LUA/sheet_get.lua"
    TOKEN=$token PATHS="$data/leak.txt" run_wrk "$b.leak" "$base/" "$LUA/sheet_get.lua"
    TOKEN=$token PATHS="$data/last4.txt" run_wrk "$b.last4" "$base/" "$LUA/sheet_get.lua"
    TOKEN=$token PATHS="$data/pages.txt" run_wrk "$b.page" "$base/" "$LUA/sheet_get.lua"
    PATHS="$data/board.txt" run_wrk "$b.board" "$base/" "$LUA/as_users.lua"
    PATHS="$data/day.txt" run_wrk "$b.day" "$base/" "$LUA/as_users.lua"
    # The reports (R-CMP-8, R-ROLE-3) as `bench`, customer-service manager everywhere, with
    # 4 clients (a handful of managers, not the desk's crowd): this week's statistics table
    # of each community and of all of them (counted, not kept), a year of staff performance.
    say "$b: reports"
    local mgr today year_ago
    mgr=$(read_token "$base" bench)
    today=$(date -u +%Y-%m-%d)
    year_ago=$(date -u -d '365 days ago' +%Y-%m-%d)
    : >"$data/weekly1.txt"; : >"$data/weekly_all.txt"; : >"$data/staff.txt"
    for c in "${communities[@]}"; do
        echo "$mgr /api/v1/communities/$c/weekly-report" >>"$data/weekly1.txt"
        echo "$mgr /api/v1/communities/$c/performance?from=$year_ago&to=$today" >>"$data/staff.txt"
    done
    echo "$mgr /api/v1/reports/weekly" >"$data/weekly_all.txt"
    n=$(curl -fs -H "Authorization: Bearer $mgr" "$base/api/v1/reports/weekly" | jq '.community_ids | length')
    [ "$n" -eq "${#communities[@]}" ] || { say "$b: the weekly table covers $n communities"; return 1; }
    n=$(curl -fs -H "Authorization: Bearer $mgr" "$base/api/v1/communities/$first/performance?from=$year_ago&to=$today" | jq '.people | length')
    [ "$n" -ge 1 ] || { say "$b: staff performance is empty"; return 1; }
    PATHS="$data/weekly1.txt" CONNECTIONS=4 run_wrk "$b.weekly1" "$base/" "$LUA/as_users.lua"
    PATHS="$data/weekly_all.txt" CONNECTIONS=4 run_wrk "$b.weekly_all" "$base/" "$LUA/as_users.lua"
    PATHS="$data/staff.txt" CONNECTIONS=4 run_wrk "$b.staff" "$base/" "$LUA/as_users.lua"
    TOKEN=$token COMMUNITY=$first run_wrk "$b.register" "$base/" "$LUA/register_sheet.lua"
    # The same across every community at once: each community's audited writes take its own
    # audit chain (ADR 2), so on PostgreSQL they do not wait on one another.
    TOKEN=$token COMMUNITY_LIST=$(IFS=,; echo "${communities[*]}") run_wrk "$b.register_all" "$base/" "$LUA/register_sheet.lua"
    R[$b.rss_after]=$(status_mib VmRSS)
    finish_backend "$b"
}

run_backends run_backend

report_head ", sheets" "$SHEETS sheets in $COMMUNITIES communities, $UNITS units, $RESIDENTS residents"
names=() gen=() size=() reg=() ratios=() reg_all=() ratios_all=() chase=() leak=() last4=() page=() board=() day=() tick1=() tickn=() plan=() bad=() timeouts=()
weekly1=() weekly_all=() staff=()
runs=(register register_all chase leak last4 page board day weekly1 weekly_all staff) # the order of the non-2xx and timeouts rows
for b in $BACKENDS; do
    names+=("$b")
    gen+=("$(awk -v m="${R[$b.generate]}" 'BEGIN {printf "%.0f s", m / 1000}')")
    size+=("${R[$b.size]}")
    reg+=("$(fmt "$b.register")")
    ratios+=("$(ratio "${R[$b.register.rps]}")")
    reg_all+=("$(fmt "$b.register_all")")
    ratios_all+=("$(ratio "${R[$b.register_all.rps]}")")
    chase+=("$(fmt "$b.chase")")
    leak+=("$(fmt "$b.leak")")
    last4+=("$(fmt "$b.last4")")
    page+=("$(fmt "$b.page")")
    board+=("$(fmt "$b.board")")
    day+=("$(fmt "$b.day")")
    weekly1+=("$(fmt "$b.weekly1")")
    weekly_all+=("$(fmt "$b.weekly_all")")
    staff+=("$(fmt "$b.staff")")
    tick1+=("${R[$b.tick1]}")
    tickn+=("${R[$b.tickn]}")
    plan+=("${R[$b.plan]}")
    bad+=("$(per bad "$b" "${runs[@]}")")
    timeouts+=("$(per timeouts "$b" "${runs[@]}")")
done
table_head "${names[@]}"
line "generate the data (bench-data)" "" "${gen[@]}"
line "database size" "" "${size[@]}"
line "registration (phone)" "≥ 1,000 req/s on SQLite" "${reg[@]}"
line "registration ÷ insert baseline" "≥ 0.30 SQLite, ≥ 0.15 PostgreSQL" "${ratios[@]}"
line "registration, every community at once" "" "${reg_all[@]}"
line "the same ÷ insert baseline" "" "${ratios_all[@]}"
line "chase queue" "p99 < 50 ms" "${chase[@]}"
line "archive search 漏水" "p99 < 50 ms" "${leak[@]}"
line "archive search phone suffix" "p99 < 50 ms" "${last4[@]}"
line "sheet page" "p99 < 50 ms" "${page[@]}"
line "repair board (dispatcher)" "p99 < 50 ms" "${board[@]}"
line "technician's day" "p99 < 50 ms" "${day[@]}"
line "weekly statistics table, one community (4 clients)" "p99 < 500 ms" "${weekly1[@]}"
line "weekly statistics table, all communities (4 clients)" "p99 < 500 ms" "${weekly_all[@]}"
line "staff performance, a year (4 clients)" "p99 < 500 ms" "${staff[@]}"
line "scheduler tick, first (the handful due)" "< 10 ms, due rows only" "${tick1[@]}"
line "scheduler tick, later (mean)" "< 10 ms" "${tickn[@]}"
line "plan of the due query" "partial index sheets_warn" "${plan[@]}"
line "non-2xx (register / all / chase / 漏水 / suffix / page / board / day / weekly / weekly all / staff)" "0" "${bad[@]}"
line "timeouts (same order)" "0" "${timeouts[@]}"
echo
baseline_note
