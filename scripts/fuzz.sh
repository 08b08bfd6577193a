#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of outside input (docs/reliability.md) with
# cargo-fuzz and libFuzzer, on the stable toolchain (no sanitizer: Rust's safe code needs
# none to find panics, overflows and hangs). Each target runs SECONDS, starting from the
# seeds in fuzz/seeds and the corpus kept in fuzz/corpus, which grows with what the run
# found new; a crash is saved in fuzz/artifacts/<target>/ and fails the script.
#
#   scripts/fuzz.sh                     # every target, 10 minutes each
#   SECONDS_EACH=60 scripts/fuzz.sh import money
#
# Needs: cargo install --locked cargo-fuzz
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${SECONDS_EACH:-600}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)

command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is needed: cargo install --locked cargo-fuzz" >&2; exit 1; }
cargo fuzz build --sanitizer none >&2
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    log=$(mktemp)
    if cargo fuzz run --sanitizer none "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        status=1
        tail -40 "$log" >&2
    fi
    runs=$(awk -F: '/stat::number_of_executed_units/ {gsub(/ /, "", $2); print $2}' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    # Keep the corpus small: only inputs that add coverage.
    cargo fuzz cmin --sanitizer none "$t" "corpus/$t" >/dev/null 2>&1 || true
    printf '%-10s %-5s %12s runs  coverage %6s  corpus %4s files\n' "$t" "$result" "${runs:-?}" "${cov:-?}" \
        "$(find "corpus/$t" -type f | wc -l)"
    rm -f "$log"
done
exit "$status"
