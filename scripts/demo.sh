#!/usr/bin/env bash
# End-to-end demo on one machine: a throwaway Postgres seeded with sample rows, the development
# control plane, an enrolled connector daemon, and the same extract dispatched twice through the
# platform's job route: once into a local KB, once into the plane's hosted KB; then one browse, one
# ad-hoc query and one sync through the platform's routes. Prints the job views and the rows that
# landed. Leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/timbal-demo.XXXXXX)
chmod 755 "$work"
plane_port=$(scripts/free-port.sh 18080)
metrics_port=$(scripts/free-port.sh 19464)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/pg-throwaway.sh stop "$work/pg"
}
trap cleanup EXIT

echo "==> building timbal-connector and timbal-devplane (the first build takes a few minutes)"
for product in timbal-connector timbal-devplane; do
    set +e
    swift build --product "$product" 2>&1 | grep -Ev "^warning: 'swift-distributed-tracing'|CMakeLists.txt$"
    status=${PIPESTATUS[0]}
    set -e
    [[ $status -eq 0 ]] || { echo "build of $product failed" >&2; exit "$status"; }
done
bin=$(swift build --show-bin-path)

echo "==> starting a throwaway PostgreSQL on loopback, seeding public.orders (10,000 rows)"
dsn=$(scripts/pg-throwaway.sh start "$work/pg")
echo "    $dsn"
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

echo "==> starting timbal-devplane on 127.0.0.1:$plane_port"
"$bin/timbal-devplane" --port "$plane_port" --data-dir "$work/plane" --admin-token demo-admin --kbs 42 --sync-tick-s 1 >"$work/devplane.log" 2>&1 &
pids+=($!)
plane="http://127.0.0.1:$plane_port"
for _ in $(seq 1 100); do curl -sf "$plane/healthz" >/dev/null && break; sleep 0.1; done
auth=(-H "Authorization: Bearer demo-admin" -H "Content-Type: application/json")

echo "==> minting an enrollment token and enrolling the connector"
token=$(curl -sf "${auth[@]}" -X POST "$plane/orgs/org_dev/connectors/enrollment-tokens" -d '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
connector=$("$bin/timbal-connector" enroll --url "$plane" --token "$token" --state-dir "$work/state" --name demo --log-level warning)
echo "    connector $connector"

cat > "$work/connections.json" <<JSON
{"shop": {"kind": "postgres", "dsn": "$dsn"}}
JSON
cat > "$work/config.json" <<JSON
{"control_plane_url": "$plane", "name": "demo", "state_dir": "$work/state", "connections": "connections.json",
 "metrics_address": "127.0.0.1:$metrics_port"}
JSON
echo "==> starting timbal-connector run (logs in $work/connector.log)"
"$bin/timbal-connector" run --config "$work/config.json" >"$work/connector.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    curl -sf "${auth[@]}" "$plane/orgs/org_dev/connectors/$connector" | grep -q '"online":true' && break
    sleep 0.1
done

for placement in local hosted; do
    echo "==> dispatching the job (placement: $placement)"
    body=$(cat <<JSON
{"kb_id": 42, "dest_table": "orders", "mode": "create", "batch_rows": 1000, "key_columns": ["id"],
 "placement": "$placement",
 "source": {"kind": "postgres", "connection_ref": "shop", "schema": "public", "table": "orders", "cursor_column": "updated_at"}}
JSON
)
    echo "    curl -X POST $plane/orgs/org_dev/connectors/$connector/jobs -H 'Authorization: Bearer demo-admin' -d '$(echo "$body" | tr -d '\n')'"
    job=$(curl -sf "${auth[@]}" -X POST "$plane/orgs/org_dev/connectors/$connector/jobs" -d "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
    for _ in $(seq 1 600); do
        view=$(curl -sf "${auth[@]}" "$plane/orgs/org_dev/connectors/$connector/jobs/$job")
        state=$(echo "$view" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
        [[ "$state" == completed || "$state" == failed || "$state" == stopped ]] && break
        sleep 0.1
    done
    echo "    job view: $view"
    [[ "$state" == completed ]] || { echo "job ended $state"; exit 1; }
done

echo "==> rows in the local KB ($work/state/kb/42.sqlite)"
sqlite3 -header -column "$work/state/kb/42.sqlite" \
    "SELECT count(*) AS rows, count(DISTINCT id) AS ids, sum(updated_at IS NULL) AS null_cursor FROM orders;
     SELECT id, updated_at, customer, total, status, paid, tags FROM orders ORDER BY id LIMIT 3"
echo "==> rows in the hosted KB (POST /k2/42/query)"
curl -sf "${auth[@]}" -X POST "$plane/k2/42/query" -d '{"sql": "SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM orders"}'
echo
curl -sf "${auth[@]}" -X POST "$plane/k2/42/query" -d '{"sql": "SELECT id, updated_at, customer, total, status, paid, tags, hex(receipt) AS receipt FROM orders ORDER BY id LIMIT 3"}'
echo
echo "==> source has $(psql -X -At "$dsn" -c 'SELECT count(*) FROM orders') rows"

api="$plane/orgs/org_dev/connectors/$connector"
echo "==> browse: the tables of connection \"shop\" (GET $api/browse/tables?connection_ref=shop)"
curl -sf "${auth[@]}" "$api/browse/tables?connection_ref=shop"
echo
echo "==> browse: the columns of public.orders (GET .../browse/columns), first three"
curl -sf "${auth[@]}" "$api/browse/columns?connection_ref=shop&schema=public&table=orders" \
    | python3 -c 'import json,sys; [print("   ", json.dumps(c)) for c in json.load(sys.stdin)["columns"][:3]]'
echo "==> query: POST $api/query (read-only, capped at max_rows)"
curl -sf "${auth[@]}" -X POST "$api/query" \
    -d '{"connection_ref": "shop", "sql": "SELECT status, count(*), sum(total) FROM orders GROUP BY status ORDER BY status", "max_rows": 10}'
echo
echo "==> sync: POST $api/syncs (every 2 s, merged on id, deletes hard), then 250 rows change and 100 are deleted in the source"
sync=$(curl -sf "${auth[@]}" -X POST "$api/syncs" -d '{"kb_id": 42, "dest_table": "orders_synced", "interval_secs": 2,
  "key_columns": ["id"], "deletes": "hard", "source": {"kind": "postgres", "connection_ref": "shop", "schema": "public", "table": "orders", "cursor_column": "updated_at"}}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["sync_id"])')
wait_sync_runs() {
    for _ in $(seq 1 300); do
        detail=$(curl -sf "${auth[@]}" "$api/syncs/$sync")
        done_runs=$(echo "$detail" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["runs_completed"])')
        [[ $done_runs -ge $1 ]] && return 0
        sleep 0.2
    done
    echo "sync did not complete $1 runs: $detail" >&2; exit 1
}
wait_sync_runs 1
psql -q -X "$dsn" -c "UPDATE orders SET total = total + 1, updated_at = now() WHERE id <= 200;
                      INSERT INTO orders (id, updated_at, customer, total) SELECT g, now(), 'new', 1 FROM generate_series(10001, 10050) g;
                      DELETE FROM orders WHERE id BETWEEN 5001 AND 5100"
runs_before=$(curl -sf "${auth[@]}" "$api/syncs/$sync" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["runs_completed"])')
wait_sync_runs $((runs_before + 1))
echo "    $(curl -sf "${auth[@]}" "$api/syncs/$sync" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("sync", d["sync"]["id"], "runs", d["stats"], "last run", d["recent_runs"][0]["state"], d["recent_runs"][0]["rows_emitted"], "rows")')"
echo "    rows the syncs' runs deleted from the KB (stats.rows_deleted): $(curl -sf "${auth[@]}" "$api/syncs/$sync" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["rows_deleted"])')"
echo "    hosted KB: $(curl -sf "${auth[@]}" -X POST "$plane/k2/42/query" -d '{"sql": "SELECT count(*), sum(CAST(total AS REAL)) FROM orders_synced"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0])')"
echo "    source:    $(psql -X -At "$dsn" -c 'SELECT count(*), sum(total) FROM orders')"
curl -sf "${auth[@]}" -X PATCH "$api/syncs/$sync" -d '{"enabled": false}' >/dev/null
echo "==> the daemon's metrics (http://127.0.0.1:$metrics_port/metrics, excerpt)"
curl -sf "http://127.0.0.1:$metrics_port/metrics" | grep -E '^timbal_(rows_extracted_total|batches_total|jobs_finished_total|channel_up)[ {]'
echo "==> recent jobs (timbal-connector jobs)"
"$bin/timbal-connector" jobs --state-dir "$work/state"
echo "==> done; files kept in $work"
