#!/usr/bin/env bash
# Scan server logs for what must never be in them: full mobile numbers, resident ID
# numbers, colour codes, and the secrets given in SCAN_SECRETS (one a line). Prints each
# finding and exits 1 when there is one.
#
#   scripts/scan-logs.sh e2e/test-results/server-*.log
set -euo pipefail

status=0
for f in "$@"; do
    [[ -f $f ]] || continue
    if hits=$(grep -nP '(?<![0-9A-Za-z])(1[3-9][0-9]{9}|[0-9]{17}[0-9Xx])(?![0-9A-Za-z])' "$f"); then
        printf '%s: personal numbers:\n%s\n' "$f" "$hits" >&2
        status=1
    fi
    if grep -q $'\x1b\\[' "$f"; then
        printf '%s: colour codes in a log written to a file\n' "$f" >&2
        status=1
    fi
    while IFS= read -r secret; do
        [[ -n $secret ]] || continue
        if grep -qF -- "$secret" "$f"; then
            printf '%s: holds a secret (%s…)\n' "$f" "${secret:0:4}" >&2
            status=1
        fi
    done <<<"${SCAN_SECRETS:-}"
done
exit "$status"
