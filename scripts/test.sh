#!/usr/bin/env bash
# The test command: formatting, lints, the Rust tests on SQLite and on PostgreSQL, the
# browser tests against the real binary on both backends, and a short fuzzing run of the
# API from its OpenAPI document. See DEVELOPERS.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$SECONDS
current=""
step() { current=$*; printf '\n==> %s\n' "$*"; }
elapsed() { local s=$((SECONDS - started)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
fail() { trap - ERR; printf '\nFAILED: %s (after %s)\n' "$*" "$(elapsed)" >&2; exit 1; }
trap 'printf "\nFAILED: %s (after %s)\n" "$current" "$(elapsed)" >&2' ERR

PG_HOST=127.0.0.1
PG_PORT=5432
CHROMIUM=${HUIQIAN_E2E_CHROMIUM:-/usr/bin/chromium}

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

# The tests build with the `demo` feature; the binary that serves is built without it.
step "cargo clippy --bin huiqian -- -D warnings (the served build, without demo)"
cargo clippy --bin huiqian -- -D warnings

step "cargo deny: licences, duplicate versions, sources, advisories"
command -v cargo-deny >/dev/null 2>&1 || fail "cargo-deny is needed: cargo install --locked cargo-deny (see DEVELOPERS.md)."
cargo deny --log-level error check bans licenses sources
# Advisories need the RustSec database; a machine that cannot reach it checks against
# the copy fetched last, and says so loudly when it has none.
if cargo deny --log-level error fetch db >/dev/null 2>&1; then
    cargo deny --log-level error check --disable-fetch advisories
elif compgen -G "$HOME/.cargo/advisory-dbs/advisory-db-*" >/dev/null; then
    echo "advisory database not reachable: checking against the copy fetched last"
    cargo deny --log-level error check --disable-fetch advisories
else
    echo "WARNING: security advisories NOT checked: the RustSec advisory database could not be fetched (no network?)."
fi

step "PostgreSQL at $PG_HOST:$PG_PORT"
pg_ok() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 5
    else
        psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -XAtqc 'SELECT 1' >/dev/null 2>&1
    fi
}
pg_ok || fail "PostgreSQL does not answer at $PG_HOST:$PG_PORT. The tests run on both backends; start it as described in DEVELOPERS.md (Prerequisites)."
echo "PostgreSQL answers."

step "cargo test --workspace (SQLite)"
HUIQIAN_TEST_BACKEND=sqlite cargo test --workspace

step "cargo test --test it (PostgreSQL)"
HUIQIAN_TEST_BACKEND=postgres cargo test --test it

step "browser tests: prerequisites"
if [[ ! -x "$CHROMIUM" ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's chromium"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
    fi
    [[ -x "$CHROMIUM" ]] || fail "no browser at $CHROMIUM: install Debian's chromium (apt-get install chromium), see DEVELOPERS.md."
fi
if ! command -v pdftotext >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's poppler-utils"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq poppler-utils >/dev/null
fi
command -v pdftotext >/dev/null 2>&1 || fail "the browser tests read the printed form's PDF with poppler-utils (apt-get install poppler-utils), see DEVELOPERS.md."
command -v node >/dev/null 2>&1 || fail "Node.js 20 is needed for the browser tests, see DEVELOPERS.md."
if [[ ! -f e2e/node_modules/.package-lock.json || e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]]; then
    npm ci --prefix e2e --no-audit --no-fund
fi
# The binary the integration tests ran (same features, `demo` among them, so nothing is
# rebuilt): the browser tests serve the demo company.
if ! build_log=$(cargo test --test it --no-run 2>&1); then
    printf '%s\n' "$build_log"
    fail "cargo test --test it --no-run"
fi
bin="${CARGO_TARGET_DIR:-target}/debug/huiqian"
[[ -x $bin ]] || fail "no binary at $bin after cargo test"

status=0
passed=0
failed=0
for backend in sqlite postgres; do
    step "browser tests ($backend)"
    out=$(mktemp)
    if ! HUIQIAN_BIN="$bin" HUIQIAN_E2E_BACKEND="$backend" HUIQIAN_E2E_CHROMIUM="$CHROMIUM" \
        node e2e/run.mjs | tee "$out"; then
        status=1
    fi
    summary=$(grep -E '^browser: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)
    rm -f "$out"
    if [[ $summary =~ ^browser:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
    else
        failed=$((failed + 1))
        status=1
    fi
done

browser_status=$status
step "server logs of the browser tests: no personal numbers, no colour codes"
logs_status=0
if ! scripts/scan-logs.sh e2e/test-results/server-*.log; then
    echo "FAILED: personal data or colour codes in the server logs (e2e/test-results/server-*.log)" >&2
    status=1
    logs_status=1
fi

step "API fuzzing: schemathesis against the OpenAPI document (SQLite)"
fuzz="passed"
if ! scripts/api-fuzz.sh --seconds 45 --seed 1 --bin "$bin"; then
    status=1
    fuzz="failed"
fi

if [[ $browser_status -ne 0 ]]; then
    printf '\nFAILED: browser tests (screenshots and server logs in e2e/test-results/), after %s\n' "$(elapsed)"
elif [[ $logs_status -ne 0 ]]; then
    printf '\nFAILED: server logs, after %s\n' "$(elapsed)"
elif [[ $status -ne 0 ]]; then
    printf '\nFAILED: API fuzzing (schemathesis found answers the document does not allow), after %s\n' "$(elapsed)"
else
    printf '\n==> all checks passed in %s\n' "$(elapsed)"
fi
echo "api fuzzing: $fuzz"
echo "browser: $passed passed, $failed failed"
exit "$status"
