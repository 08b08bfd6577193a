#!/usr/bin/env bash
# The crash drill (docs/reliability.md): a server process killed with SIGKILL at random
# moments under a mixed write load — registrations, dispatches, receipts, returns,
# collections, repairs assigned and completed, complaints followed up, imports — and
# restarted, KILLS times on each backend. After every restart each acknowledged write
# must be there, nothing half-written, numbers without gaps, the audit trail intact.
# The test command runs the same drill with three kills.
#
#   scripts/crash-drill.sh                      # 50 kills on SQLite and on PostgreSQL
#   KILLS=5 BACKENDS=sqlite scripts/crash-drill.sh
#
# Environment: KILLS (50), CLIENTS (8 concurrent clients), BACKENDS ("sqlite postgres"),
# SEED (repeat a run: the seed a run printed).
set -euo pipefail

cd "$(dirname "$0")/.."
KILLS=${KILLS:-50}
CLIENTS=${CLIENTS:-8}
BACKENDS=${BACKENDS:-"sqlite postgres"}

cargo test --test it --no-run >&2
status=0
for b in $BACKENDS; do
    out=$(mktemp)
    if ! HUIQIAN_TEST_BACKEND=$b HUIQIAN_DRILL_KILLS=$KILLS HUIQIAN_DRILL_CLIENTS=$CLIENTS ${SEED:+HUIQIAN_DRILL_SEED=$SEED} \
        cargo test --test it crash_drill -- --nocapture >"$out" 2>&1; then
        status=1
        grep -A30 "panicked" "$out" >&2 || cat "$out" >&2
    fi
    grep -h '^crash drill (' "$out" || echo "crash drill ($b): FAILED"
    rm -f "$out"
done
exit "$status"
