#!/usr/bin/env bash
# The key custody benchmark, on SQLite and on PostgreSQL (docs/benchmarks.md, "Key
# custody"): on a generated database of 20,000 key sets over 20 communities with two years
# of their books (about three movements a key set a week), "where is every key" (the
# register's first page of 50, and the keys out), the daily count's form, and their HTML
# pages when they exist, under 32 concurrent clients; and a sign-out followed by its return,
# over many key sets, as a ratio of the insert baseline (../shared/bench/baseline) measured
# in the same run — beside sheet registration's ratio, measured in the same run too.
# Prints a markdown table.
#
#   scripts/bench-keys.sh
#   KEY_SETS=2000 COMMUNITIES=2 UNITS=4000 RESIDENTS=6000 DURATION=5s scripts/bench-keys.sh   # a quick try
#
# Environment: KEY_SETS (20000), COMMUNITIES (20), UNITS (50000), RESIDENTS (100000),
# DURATION (15s), CONNECTIONS (32), THREADS (2), TIMEOUT (10s), BACKENDS ("sqlite postgres"),
# PORT (18432), BASELINE_PORT (13999), PG_URL (postgres://postgres@127.0.0.1:5432),
# KEEP (a folder to keep the raw output in).
set -euo pipefail

cd "$(dirname "$0")/.."
KEY_SETS=${KEY_SETS:-20000}
COMMUNITIES=${COMMUNITIES:-20}
UNITS=${UNITS:-50000}
RESIDENTS=${RESIDENTS:-100000}
PORT=${PORT:-18432}
PG_DB=huiqian_bench_keys

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

# The plans of the two read paths' queries (src/store/keys.rs: key_sets for all and for
# the keys out, with their totals, which the application reads as a scalar subquery of the
# page's statement and which are shown apart here; the cabinets with their counts; the
# open incidents; the count form's key sets) for community $2, cabinet $3, at time $4.
explain_keys() { # backend community cabinet now_ms
    local b=$1 c=$2 cab=$3 now=$4 sql
    local cols="k.id, k.tag, k.hook, c.name, u.status, k.room, k.total, k.out_qty, l.id, l.taker_name, l.due_at,
      (SELECT COUNT(*) FROM key_incidents i WHERE i.key_set_id = k.id AND i.state <> 'resolved')"
    local from="FROM key_sets k JOIN key_cabinets c ON c.id = k.cabinet_id LEFT JOIN units u ON u.id = k.unit_id
      LEFT JOIN key_loans l ON l.key_set_id = k.id AND l.closed_at IS NULL"
    local out="FROM key_loans l JOIN key_sets k ON k.id = l.key_set_id JOIN key_cabinets c ON c.id = k.cabinet_id
      LEFT JOIN units u ON u.id = k.unit_id WHERE l.community_id = $c AND l.closed_at IS NULL"
    local queries=(
        "all_page|SELECT $cols $from WHERE k.community_id = $c ORDER BY k.tag LIMIT 50 OFFSET 0"
        "all_total|SELECT COUNT(*) FROM key_sets k WHERE k.community_id = $c"
        "out_page|SELECT $cols $out ORDER BY k.tag LIMIT 50 OFFSET 0"
        "out_total|SELECT COUNT(*) FROM key_loans l JOIN key_sets k ON k.id = l.key_set_id
          WHERE l.community_id = $c AND l.closed_at IS NULL"
        "overdue_total|SELECT COUNT(*) FROM key_loans l JOIN key_sets k ON k.id = l.key_set_id
          WHERE l.community_id = $c AND l.closed_at IS NULL AND l.due_at < $now"
        "cabinets|SELECT c.id, (SELECT COUNT(*) FROM key_sets k WHERE k.cabinet_id = c.id AND k.state = 'held')
          FROM key_cabinets c WHERE c.community_id = $c ORDER BY c.name"
        "open_incidents|SELECT i.id FROM key_incidents i WHERE i.community_id = $c AND i.state IN ('open', 'reported')
          ORDER BY i.id DESC LIMIT 500"
        "count_sheet|SELECT id, tag, hook, room, total - out_qty FROM key_sets WHERE cabinet_id = $cab AND state = 'held'
          ORDER BY tag"
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

# The session cookie (hq_session=…) of a generated user signed in as a browser would.
session_cookie() { # base username
    local jar
    jar=$(mktemp -p "$work")
    curl -fs -c "$jar" -H 'Content-Type: application/json' \
        -d "{\"username\":\"$2\",\"password\":\"bench-password-1\"}" "$1/api/v1/auth/sign-in" >/dev/null
    awk '$6 == "hq_session" { print "hq_session=" $7 }' "$jar"
}

run_backend() { # sqlite|postgres
    local b=$1 data="$work/$1" base="http://127.0.0.1:$PORT" args
    prepare_backend "$b" "$data"

    say "$b: generating $KEY_SETS key sets in $COMMUNITIES communities ($UNITS units, $RESIDENTS residents)"
    local t0
    generate "$b" --units "$UNITS" --residents "$RESIDENTS" --communities "$COMMUNITIES" \
        --key-sets "$KEY_SETS" --phones "$data/phones.txt" --key-ids "$data/keys.txt" >"$data/generate.txt" 2>"$data/generate.log"
    cat "$data/generate.txt" >&2
    R[$b.loans]=$(awk '/ key sets in / { for (i = 1; i <= NF; i++) if ($(i + 1) == "sign-outs") print $i }' "$data/generate.txt")
    if [ "$b" = postgres ]; then
        # Statistics and the visibility map for the freshly loaded tables, as
        # scripts/bench-sheets.sh does (a database that grew over two years has both).
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

    say "$b: starting"
    start_server "$data"

    # A write API token and a browser session of the receptionist bench_desk (receptionist
    # in every community).
    local token cookie first cabinet n
    token=$(read_token "$base" bench_desk)
    cookie=$(session_cookie "$base" bench_desk)
    mapfile -t communities < <(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/communities" | jq -r '.[].id')
    first=${communities[0]}
    : >"$data/all.txt"; : >"$data/out.txt"; : >"$data/count.txt"; : >"$data/page_all.txt"; : >"$data/page_count.txt"
    for c in "${communities[@]}"; do
        echo "/api/v1/communities/$c/keys" >>"$data/all.txt"
        echo "/api/v1/communities/$c/keys?where=out" >>"$data/out.txt"
        echo "/communities/$c/keys" >>"$data/page_all.txt"
        for cabinet in $(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/communities/$c/key-cabinets" | jq -r '.[].id'); do
            echo "/api/v1/key-cabinets/$cabinet/count" >>"$data/count.txt"
            echo "/key-cabinets/$cabinet/count" >>"$data/page_count.txt"
        done
    done
    cabinet=$(head -1 "$data/count.txt" | cut -d/ -f5)
    n=$(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/communities/$first/keys" | jq '.keys | length')
    [ "$n" -eq 50 ] || { say "$b: the register's first page has $n key sets"; return 1; }
    n=$(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/communities/$first/keys?where=out" | jq '.total')
    [ "$n" -ge 1 ] || { say "$b: no key is out"; return 1; }
    n=$(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/key-cabinets/$cabinet/count" | jq '.lines | length')
    [ "$n" -ge 1 ] || { say "$b: the count form is empty"; return 1; }
    explain_keys "$b" "$first" "$cabinet" "$(now_ms)" >"$data/plans.txt" 2>&1 || true
    cat "$data/plans.txt" >&2

    TOKEN=$token PATHS="$data/all.txt" run_wrk "$b.all" "$base/" "$LUA/sheet_get.lua"
    TOKEN=$token PATHS="$data/out.txt" run_wrk "$b.out" "$base/" "$LUA/sheet_get.lua"
    TOKEN=$token PATHS="$data/count.txt" run_wrk "$b.count" "$base/" "$LUA/sheet_get.lua"
    # The HTML pages, as the desk's browser asks for them; a page not there yet is skipped.
    local page status
    for page in page_all page_count; do
        status=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$base$(head -1 "$data/$page.txt")")
        if [ "$status" = 200 ]; then
            COOKIE=$cookie PATHS="$data/$page.txt" run_wrk "$b.$page" "$base/" "$LUA/page_get.lua"
        else
            say "$b: $(head -1 "$data/$page.txt") answers $status: not measured"
            R[$b.$page.rps]="not measured ($status)"
        fi
    done
    # The write: a sign-out and its return over 4,000 key sets, alternating; then sheet
    # registration on the same database, for the ratio the aim compares with.
    TOKEN=$token KEYS="$data/keys.txt" run_wrk "$b.move" "$base/" "$LUA/key_movements.lua"
    TOKEN=$token COMMUNITY=$first run_wrk "$b.register" "$base/" "$LUA/register_sheet.lua"
    R[$b.rss_after]=$(status_mib VmRSS)
    finish_backend "$b"
}

run_backends run_backend

# A wrk run's cell, or why it has none.
cell() { if [[ "${R[$1.rps]}" =~ ^[0-9]+$ ]]; then fmt "$1"; else echo "${R[$1.rps]}"; fi; }

report_head ", key sets" "$KEY_SETS key sets in $COMMUNITIES communities ($UNITS units, $RESIDENTS residents)"
names=() gen=() loans=() analyze=() size=() all=() out=() count=() page_all=() page_count=() move=() move_ratio=()
reg=() reg_ratio=() relative=() bad=() timeouts=()
runs=(all out count page_all page_count move register) # the order of the non-2xx and timeouts rows
for b in $BACKENDS; do
    names+=("$b")
    gen+=("$(awk -v m="${R[$b.generate]}" 'BEGIN {printf "%.0f s", m / 1000}')")
    loans+=("${R[$b.loans]}")
    analyze+=("${R[$b.analyze]:-—}")
    size+=("${R[$b.size]}")
    all+=("$(cell "$b.all")")
    out+=("$(cell "$b.out")")
    count+=("$(cell "$b.count")")
    page_all+=("$(cell "$b.page_all")")
    page_count+=("$(cell "$b.page_count")")
    move+=("$(cell "$b.move")")
    move_ratio+=("$(ratio "${R[$b.move.rps]}")")
    reg+=("$(cell "$b.register")")
    reg_ratio+=("$(ratio "${R[$b.register.rps]}")")
    relative+=("$(awk -v a="${R[$b.move.rps]}" -v r="${R[$b.register.rps]}" 'BEGIN { if (r > 0) printf "%.2f", a / r; else print "n/a" }')")
    bad+=("$(per bad "$b" "${runs[@]}")")
    timeouts+=("$(per timeouts "$b" "${runs[@]}")")
done
table_head "${names[@]}"
line "generate the data (bench-data)" "" "${gen[@]}"
line "sign-outs generated (two years)" "" "${loans[@]}"
line "VACUUM (ANALYZE), ms" "" "${analyze[@]}"
line "database size" "" "${size[@]}"
line "where is every key: register, first page of 50 (API)" "p99 < 50 ms" "${all[@]}"
line "keys out (?where=out, API)" "p99 < 50 ms" "${out[@]}"
line "daily count form (API)" "p99 < 50 ms" "${count[@]}"
line "register page (HTML)" "p99 < 50 ms" "${page_all[@]}"
line "count page (HTML)" "p99 < 50 ms" "${page_count[@]}"
line "sign-out or return (alternating)" "" "${move[@]}"
line "the same ÷ insert baseline" "registration's ratio" "${move_ratio[@]}"
line "sheet registration (same run)" "" "${reg[@]}"
line "registration ÷ insert baseline" "" "${reg_ratio[@]}"
line "movements ÷ registration" "≥ 1" "${relative[@]}"
line "non-2xx (all / out / count / register page / count page / movements / registration)" "0" "${bad[@]}"
line "timeouts (same order)" "0" "${timeouts[@]}"
echo
baseline_note
