# Shared by scripts/bench.sh, scripts/bench-sheets.sh and scripts/bench-export.sh (sourced
# after they set `work`, `server_pid`, THREADS, CONNECTIONS, DURATION, TIMEOUT, BASELINE_BIN, BASELINE_DIR,
# BASELINE_PORT and `say`): start/stop, wrk runs parsed into R[KEY.*], the insert baseline.

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
