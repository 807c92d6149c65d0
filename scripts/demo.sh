#!/usr/bin/env bash
# End-to-end demo on one machine: a throwaway Postgres seeded with sample rows, one extract job
# into a local SQLite KB, then a summary of what landed. Leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/timbal-demo.XXXXXX)
chmod 755 "$work"
port=55433
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
trap 'scripts/pg-throwaway.sh stop "$work/pg"' EXIT

echo "==> building timbal-connector"
swift build --product timbal-connector 2>&1 | tail -n 1
bin=$(swift build --show-bin-path)/timbal-connector

echo "==> starting a throwaway PostgreSQL on 127.0.0.1:$port"
dsn=$(scripts/pg-throwaway.sh start "$work/pg" "$port")

echo "==> seeding public.orders (10,000 rows; updated_at has ties and some NULLs)"
psql -q -X "$dsn" <<'SQL'
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE orders (
    id bigint PRIMARY KEY, updated_at timestamptz, customer text, total numeric(12,2),
    status order_status, paid boolean, tags text[], details jsonb, receipt bytea);
INSERT INTO orders
SELECT g,
       CASE WHEN g % 97 = 0 THEN NULL ELSE '2026-06-01'::timestamptz + (g / 4) * interval '1.000001 second' END,
       'customer ' || (g % 300), round((g * 1.37)::numeric, 2),
       (ARRAY['new', 'paid', 'shipped'])[1 + g % 3]::order_status, g % 2 = 0,
       ARRAY['tag' || (g % 5)], jsonb_build_object('items', g % 7, 'note', 'order ' || g), decode(md5(g::text), 'hex')
FROM generate_series(1, 10000) g;
CREATE INDEX ON orders (updated_at, id);
SQL

cat > "$work/connections.json" <<JSON
{"shop": {"kind": "postgres", "dsn": "$dsn"}}
JSON
cat > "$work/job.json" <<'JSON'
{
  "kb_id": 42,
  "dest_table": "orders",
  "placement": "local",
  "mode": "create",
  "batch_rows": 1000,
  "key_columns": ["id"],
  "source": {"kind": "postgres", "connection_ref": "shop", "schema": "public", "table": "orders",
             "cursor_column": "updated_at"}
}
JSON

echo "==> timbal-connector extract --job $work/job.json --connections $work/connections.json --state-dir $work/state"
"$bin" extract --job "$work/job.json" --connections "$work/connections.json" --state-dir "$work/state"

kb="$work/state/kb/42.sqlite"
echo "==> what landed in $kb"
sqlite3 -header -column "$kb" "SELECT count(*) AS rows, count(DISTINCT id) AS distinct_ids, sum(updated_at IS NULL) AS null_cursor_rows FROM orders"
sqlite3 -header -column "$kb" "SELECT id, updated_at, customer, total, status, paid, tags, details, hex(receipt) AS receipt FROM orders ORDER BY id LIMIT 3"
sqlite3 -header -column "$kb" "SELECT job_id, state, rows_landed, batches, checkpoint FROM _timbal_jobs"
echo "==> source has $(psql -X -At "$dsn" -c 'SELECT count(*) FROM orders') rows; the KB has $(sqlite3 "$kb" 'SELECT count(*) FROM orders')"
echo "==> files kept in $work (the Postgres server is stopped)"
