#!/usr/bin/env bash
# What the KB check before a resume costs: builds a KB file of about SIZE_MB (default 1024) with
# the sqlite3 CLI (a keyed table like an extract's, 16 KiB pages, WAL) and times
# `PRAGMA quick_check` on it, three times (the first may read from disk, the others from the cache).
# Usage: bench/quickcheck.sh [SIZE_MB]
set -euo pipefail
size_mb=${1:-1024}
work=$(mktemp -d /tmp/timbal-bench-qc.XXXXXX)
trap 'rm -rf "$work"' EXIT
rows=$(( size_mb * 1024 * 1024 / 170 ))
echo "building a ${size_mb} MB KB ($rows rows)..." >&2
sqlite3 "$work/kb.sqlite" <<SQL
PRAGMA page_size = 16384; PRAGMA journal_mode = WAL;
CREATE TABLE events (id INTEGER, updated_at TEXT, amount TEXT, title TEXT, payload TEXT, PRIMARY KEY (id));
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $rows)
INSERT INTO events SELECT n, printf('2026-01-01T00:00:%06d.000000Z', n), printf('%d.%04d', n, n % 9999),
       'event title number ' || n, hex(randomblob(40)) FROM g;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
printf 'file: %s MB\n' "$(( $(stat -c %s "$work/kb.sqlite") / 1024 / 1024 ))"
sync
echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || echo "(cannot drop the page cache here: the first run may be warm)" >&2
for run in 1 2 3; do
    start=$(date +%s.%N)
    result=$(sqlite3 "$work/kb.sqlite" "PRAGMA quick_check")
    printf 'quick_check run %s: %.2f s (%s)\n' "$run" "$(echo "$(date +%s.%N) - $start" | bc)" "$result"
done
