# Shared by scripts/bench.sh, scripts/bench-sheets.sh and scripts/bench-export.sh, sourced
# from the repository root once they have set their own settings (PORT, PG_DB, the size of
# the data) and defined keep_output (what KEEP keeps of `work`): the settings they share,
# the checks and builds before a run, the work folder and its cleanup, the database of a
# backend, server start/stop, API tokens, wrk runs parsed into R[KEY.*], the insert
# baseline and the report's heading and lines.

# The settings every benchmark shares, unless the environment sets them (each script's
# heading lists those it uses).
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
BIN=target/release/huiqian
# wrk's load and the insert baseline.
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
TIMEOUT=${TIMEOUT:-10s}
BASELINE_PORT=${BASELINE_PORT:-13999}
BASELINE_DIR=../shared/bench/baseline
BASELINE_BIN=target/insert-baseline/release/insert-baseline
LUA=scripts/bench

say() { echo "bench: $*" >&2; }
now_ms() { date +%s%3N; }

# need TOOL…: stop unless every tool is on PATH, and psql too when PostgreSQL is among BACKENDS.
need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { say "$tool is needed"; exit 1; }
    done
    if [[ " $BACKENDS " == *" postgres "* ]]; then
        command -v psql >/dev/null || { say "psql is needed for the PostgreSQL run"; exit 1; }
    fi
}

# The release build of the server, and with `baseline` the insert baseline's as well.
build_release() { # [baseline]
    say "building (release)"
    cargo build --release --features demo --bin huiqian >&2
    if [ "${1:-}" = baseline ]; then
        CARGO_TARGET_DIR=target/insert-baseline cargo build --release \
            --manifest-path "$BASELINE_DIR/Cargo.toml" >&2
    fi
}

drop_db() {
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null
}

# The end of a run, however it ends: the server stopped, the PostgreSQL database dropped,
# what KEEP asks for kept and the work folder removed.
cleanup() {
    stop_server
    if [[ " $BACKENDS " == *" postgres "* ]]; then
        drop_db 2>/dev/null || true
    fi
    if [ -n "${KEEP:-}" ]; then
        mkdir -p "$KEEP" && keep_output
    fi
    rm -rf "$work"
}

# The work folder `work` for the run's files, removed with the rest by cleanup at exit.
start_work() {
    work=$(mktemp -d)
    server_pid=""
    trap cleanup EXIT
}

# The folder DATA of a backend's run, a fresh database on PostgreSQL, and in `args` (a
# variable of the caller) the server's options that select them.
prepare_backend() { # sqlite|postgres data
    args=(--data "$2")
    mkdir -p "$2"
    if [ "$1" = postgres ]; then
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" >/dev/null
        args+=(--database-url "$PG_URL/$PG_DB")
    fi
}

# The server on PORT with the options in `args`, its log in DATA/serve.log, once it is ready.
start_server() { # data
    "$BIN" "${args[@]}" serve --listen "127.0.0.1:$PORT" 2>"$1/serve.log" &
    server_pid=$!
    wait_for "http://127.0.0.1:$PORT/readyz"
}

# The end of a backend's run: the server stopped and the PostgreSQL database dropped.
finish_backend() { # sqlite|postgres
    stop_server
    if [ "$1" = postgres ]; then drop_db; fi
}

# generate KEY OPTION…: `huiqian bench-data` with the options (and those in `args`), its
# wall time in ms into R[KEY.generate].
generate() {
    local key=$1 t0
    shift
    t0=$(now_ms)
    "$BIN" "${args[@]}" bench-data "$@"
    R[$key.generate]=$(( $(now_ms) - t0 ))
}

# A figure of the server's /proc status (VmRSS, VmHWM, RssAnon) in KiB, and in MiB.
status_kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$server_pid/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
status_mib() { mib "$(status_kib "$1")"; }

stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

wait_for() { # url
    for _ in $(seq 1 2000); do
        curl -fs -o /dev/null "$1" && return 0
        kill -0 "$server_pid" 2>/dev/null || { say "server exited"; return 1; }
        sleep 0.005
    done
    say "no answer from $1"
    return 1
}

# A write API token of a generated user (password bench-password-1, no second factor),
# made with a browser-style session. A write token: the board checks dispatch_repair and
# the day do_repair, which a read-only token does not carry.
read_token() { # base username
    local jar csrf
    jar=$(mktemp -p "$work")
    csrf=$(curl -fs -c "$jar" -H 'Content-Type: application/json' \
        -d "{\"username\":\"$2\",\"password\":\"bench-password-1\"}" "$1/api/v1/auth/sign-in" | jq -r .csrf_token)
    curl -fs -b "$jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
        -d '{"name":"bench","write":true}' "$1/api/v1/me/tokens" | jq -r .secret
}

# A wrk latency figure (`812.00us`, `3.41ms`, `1.20s`) in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n = n / 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n = n * 60000; else if (v ~ /s$/) n = n * 1000
        printf "%.1f", n }'
}

declare -A R

# run_wrk KEY URL LUA: req/s, p50, p99 and failed responses into R[KEY.*]
run_wrk() {
    local key=$1 url=$2 script=$3 out="$work/wrk-$1.txt"
    say "wrk $key"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "$TIMEOUT" --latency -s "$script" "$url" >"$out"
    R[$key.rps]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
    R[$key.p50]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    R[$key.p99]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    R[$key.bad]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    R[$key.bad]=${R[$key.bad]:-0}
    R[$key.timeouts]=$(awk '/Socket errors:/ {gsub(",", ""); print $NF}' "$out")
    R[$key.timeouts]=${R[$key.timeouts]:-0}
}

run_baseline() { # KEY
    mkdir -p "$work/baseline-$1"
    DB="$work/baseline-$1/b.db" ADDR="127.0.0.1:$BASELINE_PORT" "$BASELINE_BIN" >/dev/null 2>&1 &
    server_pid=$!
    wait_for "http://127.0.0.1:$BASELINE_PORT/hello"
    run_wrk "$1" "http://127.0.0.1:$BASELINE_PORT/tickets" "$BASELINE_DIR/post_ticket.lua"
    stop_server
}

# run_backends FUNCTION: FUNCTION for every backend in BACKENDS, between two runs of the
# insert baseline, whose mean req/s it leaves in `baseline` (for `ratio`).
run_backends() {
    local b
    run_baseline baseline1
    for b in $BACKENDS; do "$1" "$b"; done
    run_baseline baseline2
    baseline=$(( (R[baseline1.rps] + R[baseline2.rps]) / 2 ))
}

# A req/s figure as a ratio of the insert baseline's mean.
ratio() { awk -v a="$1" -v b="$baseline" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# The report's heading: the version, TITLE after it, the date, the machine (cores,
# processor, memory), DATA and the wrk settings.
report_head() { # title data
    local mem cpu
    mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    echo
    echo "### huiqian $(git describe --always --dirty 2>/dev/null || echo '?')$1, $(date -u +%Y-%m-%d)"
    echo
    echo "Machine: $(nproc) cores ($cpu), $mem. Data: $2."
    echo "Load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $TIMEOUT --latency (latencies in ms)."
    echo
}

# A row of the report's table: what, the aim, then a column a backend.
line() { printf '| %s | %s |' "$1" "$2"; shift 2; printf ' %s |' "$@"; echo; }

# The table's heading rows, a column for each of the backends NAME….
table_head() {
    line "" "aim" "$@"
    line "---" "---" "${@//*/---}"
}

# A wrk run's figures, R[KEY.*], as a cell.
fmt() { echo "${R[$1.rps]} req/s, p50 ${R[$1.p50]}, p99 ${R[$1.p99]}"; }

# per FIELD BACKEND RUN…: R[BACKEND.RUN.FIELD] of each run, joined with " / ".
per() {
    local field=$1 b=$2 out="" run
    shift 2
    for run in "$@"; do out+="${out:+ / }${R[$b.$run.$field]}"; done
    echo "$out"
}

# The report's closing line on the insert baseline.
baseline_note() {
    echo "Insert baseline (one SQLite insert per request, POST /tickets, same wrk settings):" \
        "${R[baseline1.rps]} req/s before (p99 ${R[baseline1.p99]} ms), ${R[baseline2.rps]} req/s after" \
        "(p99 ${R[baseline2.p99]} ms); mean $baseline req/s."
}
