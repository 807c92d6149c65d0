#!/usr/bin/env bash
# Memory with large cells: ROWS rows of CELL_MB-megabyte text (default 3 x 50 MB, 150 MB in all),
# extracted into a local KB with the default batch_bytes (16 MiB). Prints the connector's peak RSS.
# Usage: bench/bigrows.sh [ROWS] [CELL_MB]. Uses a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-3}
cell_mb=${2:-50}
work=$(mktemp -d /tmp/timbal-bench-big.XXXXXX)
chmod 755 "$work"
dsn=$(scripts/pg-throwaway.sh start "$work/pg")
trap 'scripts/pg-throwaway.sh stop "$work/pg"; rm -rf "$work"' EXIT
swift build -c release --product timbal-connector >/dev/null
bin=$(swift build -c release --show-bin-path)/timbal-connector
psql -q -X "$dsn" <<SQL
CREATE TABLE docs (id int PRIMARY KEY, updated_at timestamptz NOT NULL, body text);
INSERT INTO docs SELECT g, '2026-01-01'::timestamptz + g * interval '1 s', repeat(md5(g::text), $cell_mb * 1024 * 1024 / 32)
FROM generate_series(1, $rows) g;
CREATE INDEX ON docs (updated_at, id);
SQL
echo "{\"pg\": {\"kind\": \"postgres\", \"dsn\": \"$dsn\"}}" > "$work/connections.json"
cat > "$work/job.json" <<JSON
{"kb_id": 1, "dest_table": "docs", "placement": "local",
 "source": {"kind": "postgres", "connection_ref": "pg", "table": "docs", "cursor_column": "updated_at"}}
JSON
/usr/bin/time -f "%M" -o "$work/rss" "$bin" extract --job "$work/job.json" --connections "$work/connections.json" \
    --state-dir "$work/state" --job-id big --log-level warning
printf 'cells: %s x %s MB; connector peak RSS: %.1f MiB\n' "$rows" "$cell_mb" "$(echo "scale=1; $(cat "$work/rss") / 1024" | bc)"
