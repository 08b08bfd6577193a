#!/usr/bin/env bash
# The soak (docs/reliability.md): a busy morning — in each of 20 communities the desk
# registering, chasing and following up, the engineering dispatcher assigning repairs,
# the technician arriving and completing them, the manager reading the weekly table and
# staff performance — for 30 minutes against a release build on loopback, on each
# backend. Prints the requests and p50/p99 per route and the server's memory over time;
# fails if a single request fails.
#
#   scripts/soak.sh
#   MINUTES=2 COMMUNITIES=5 BACKENDS=sqlite scripts/soak.sh    # a quick try
#
# Environment: MINUTES (30), COMMUNITIES (20), PAUSE_MS (100: each person's pause between
# steps), BACKENDS ("sqlite postgres"), OUT (folder for routes-*.md and rss-*.csv;
# default soak-results/).
set -euo pipefail

cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-30}
COMMUNITIES=${COMMUNITIES:-20}
PAUSE_MS=${PAUSE_MS:-100}
BACKENDS=${BACKENDS:-"sqlite postgres"}
OUT=${OUT:-soak-results}

cargo build --release --bin huiqian >&2
cargo test --test it --no-run >&2
mkdir -p "$OUT"

# The server's memory over the run as a text chart: 12 rows from 0 to the highest
# sample (a flat line is flat), 60 columns of time.
plot() { # csv backend
    awk -F, -v name="$2" 'BEGIN { n = 0 } NR > 1 { t[n] = $1 + 0; v[n] = $2 + 0; n++ }
    END {
        if (n == 0) exit
        lo = 0; hi = v[0]
        for (i = 0; i < n; i++) if (v[i] > hi) hi = v[i]
        if (hi - lo < 1) { hi = lo + 1 }
        w = 60; rows = 12
        for (c = 0; c < w; c++) { i = int(c * n / w); col[c] = int((v[i] - lo) / (hi - lo) * (rows - 1) + 0.5) }
        printf "\nserver RSS (%s), %.0f s:\n", name, t[n - 1]
        for (r = rows - 1; r >= 0; r--) {
            label = lo + (hi - lo) * r / (rows - 1)
            line = sprintf("%7.1f MiB |", label)
            for (c = 0; c < w; c++) line = line (col[c] == r ? "*" : " ")
            print line
        }
        printf "            +%s\n", sprintf("%60s", "") ; 
    }' "$1" | sed 's/+ *$/+------------------------------------------------------------/'
}
status=0
for b in $BACKENDS; do
    log="$OUT/soak-$b.txt"
    if ! HUIQIAN_TEST_BACKEND=$b HUIQIAN_SERVER_BIN="$PWD/target/release/huiqian" \
        HUIQIAN_SOAK_SECONDS=$((MINUTES * 60)) HUIQIAN_SOAK_COMMUNITIES=$COMMUNITIES \
        HUIQIAN_SOAK_PAUSE_MS=$PAUSE_MS HUIQIAN_SOAK_OUT="$OUT" \
        cargo test --test it a_busy_morning_soak -- --nocapture >"$log" 2>&1; then
        status=1
        grep -A30 "panicked" "$log" >&2 || true
    fi
    [ -f "$OUT/routes-$b.md" ] && cat "$OUT/routes-$b.md"
    [ -f "$OUT/rss-$b.csv" ] && plot "$OUT/rss-$b.csv" "$b"
    echo
done
echo "memory curves: $OUT/rss-*.csv (seconds,rss_mib)"
exit "$status"
