#!/usr/bin/env bash
# The full-disk drill (docs/reliability.md) on a real file system: huiqian with the demo
# on a small tmpfs, the disk filled to the last byte while it serves; registrations and
# uploads must be refused with 507 storage_full and write nothing, reading must go on;
# once there is room again writing resumes with the next number, and after a clean stop
# SQLite's integrity check and the audit trail pass. Needs root (mount).
#
#   sudo scripts/drill-disk-full.sh
set -euo pipefail

cd "$(dirname "$0")/.."
PORT=${PORT:-18471}
BIN=${BIN:-target/debug/huiqian}
[ "$(id -u)" = 0 ] || { echo "run as root: the drill mounts a small tmpfs" >&2; exit 1; }
# The drill serves the demo company: a binary built with the `demo` feature.
[ -x "$BIN" ] || cargo build --features demo --bin huiqian >&2
for tool in curl jq sqlite3; do command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }; done

mnt=$(mktemp -d)
serverlog=$(mktemp)  # the server's output, off the disk that fills up
mount -t tmpfs -o size=48m tmpfs "$mnt"
pid=""
cleanup() {
    local status=$?
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [ "$status" != 0 ] && [ -f "$serverlog" ]; then
        echo "the server's output:" >&2
        tail -30 "$serverlog" >&2
    fi
    umount "$mnt" 2>/dev/null || true
    rmdir "$mnt"
}
trap cleanup EXIT
data="$mnt/data"
base="http://127.0.0.1:$PORT"
HUIQIAN_LOG=${HUIQIAN_LOG:-huiqian=warn} "$BIN" serve --demo --data "$data" --listen "127.0.0.1:$PORT" >"$serverlog" 2>&1 &
pid=$!
for _ in $(seq 1 200); do curl -fs -o /dev/null "$base/readyz" && break; sleep 0.1; done
jar=$(mktemp)
csrf=$(curl -fs -c "$jar" -H 'Content-Type: application/json' -d '{"username":"hy.desk","password":"huiqian-demo"}' \
    "$base/api/v1/auth/sign-in" | jq -r .csrf_token)
community=$(curl -fs -b "$jar" "$base/api/v1/communities" | jq -r '.[] | select(.code == "HY") | .id')
register() {
    curl -s -b "$jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' -w '\n%{http_code}' \
        -d "{\"kind\":\"inquiry\",\"channel\":\"phone\",\"requester_name\":\"王秀英\",\"reason\":\"$1\"}" \
        "$base/api/v1/communities/$community/sheets"
}
first=$(register "磁盘演练之前" | head -1 | jq -r .number)
echo "registered $first; database and log: $(du -sh "$data" | cut -f1); filling the disk"
dd if=/dev/zero of="$mnt/filler" bs=64k 2>/dev/null || true
echo "free: $(df --output=avail -B1 "$mnt" | tail -1) bytes"
sheets_before=$(sqlite3 -readonly "$data/huiqian.db" 'SELECT COUNT(*) FROM sheets')
refused=0
for i in $(seq 1 20); do
    out=$(register "磁盘已满时第${i}次登记，$(printf '楼道灯不亮%.0s' $(seq 1 100))")
    code=$(tail -1 <<<"$out")
    if [ "$code" = 507 ]; then refused=$((refused + 1)); last=$(head -1 <<<"$out"); fi
    [ "$code" = 201 ] || [ "$code" = 507 ] || { echo "unexpected answer $code: $out" >&2; tail -20 "$serverlog" >&2; exit 1; }
done
echo "registrations refused while full: $refused of 20; the answer: $last"
sheet=$(curl -fs -b "$jar" "$base/api/v1/communities/$community/sheets?number=$first" | jq -r '.[0].id')
photo=$(mktemp --suffix=.jpg)
{ printf '\xff\xd8\xff\xe0'; head -c 200000 /dev/urandom; } >"$photo"
upload=$(curl -s -b "$jar" -H "X-CSRF-Token: $csrf" -F "file=@$photo;filename=photo.jpg" -w '\n%{http_code}' \
    "$base/api/v1/sheets/$sheet/attachments" || true)
rm -f "$photo"
echo "photo upload while full: $(tail -1 <<<"$upload") $(head -1 <<<"$upload")"
echo "reading while full: GET /api/v1/sheets/$sheet → $(curl -s -o /dev/null -w '%{http_code}' -b "$jar" "$base/api/v1/sheets/$sheet")"
ls "$data"/attachments/*/*/.* 2>/dev/null | grep -q . && { echo "a partial attachment was left behind" >&2; exit 1; }
rm -f "$mnt/filler"
sleep 1
out=$(register "磁盘腾出空间之后")
code=$(tail -1 <<<"$out"); next=$(head -1 <<<"$out" | jq -r .number)
echo "after freeing space: $code, number $next (before the disk filled: $first; sheets while full: +$(( $(sqlite3 -readonly "$data/huiqian.db" 'SELECT COUNT(*) FROM sheets') - sheets_before - 1 )))"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
echo "integrity: $(sqlite3 "$data/huiqian.db" 'PRAGMA integrity_check')"
"$BIN" audit verify --data "$data" 2>/dev/null
