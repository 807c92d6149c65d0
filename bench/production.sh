#!/usr/bin/env bash
# Benchmark: what a paced extract costs the production side. pgbench (TPC-B-like, CLIENTS clients,
# scale 10) runs alone for SECONDS (baseline), then again while the connector extracts bench_events
# at CAP rows/s, once with an index on the cursor and once without. Prints tps against the
# baseline and the extract's achieved rate. Everything shares this machine's cores, so the
# connector's own CPU counts against pgbench too: report the figures with the setup.
# Usage: bench/production.sh [SECONDS] [CAP] [CLIENTS]   (default 30, 20000, 4). Uses a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
cap=${2:-20000}
clients=${3:-4}
work=$(mktemp -d /tmp/timbal-bench-prod.XXXXXX)
chmod 755 "$work"
dsn=$(scripts/pg-throwaway.sh start "$work/pg")
trap 'scripts/pg-throwaway.sh stop "$work/pg"; rm -rf "$work"' EXIT

swift build -c release --product timbal-connector >/dev/null
bin=$(swift build -c release --show-bin-path)/timbal-connector
rows=$(( cap * (seconds + 10) ))
echo "seeding $rows rows and pgbench scale 10..." >&2
bench/seed.sh "$dsn" "$rows"
pgbench -q -i -s 10 "$dsn" >/dev/null 2>&1

cat > "$work/connections.json" <<JSON
{"bench": {"kind": "postgres", "dsn": "$dsn"}}
JSON
cat > "$work/job.json" <<JSON
{"kb_id": 1, "dest_table": "bench_events", "placement": "local", "mode": "create",
 "pacing": {"max_rows_per_sec": $cap},
 "source": {"kind": "postgres", "connection_ref": "bench", "table": "bench_events", "cursor_column": "updated_at"}}
JSON

tps() { pgbench -n -c "$clients" -j 2 -T "$seconds" "$dsn" 2>/dev/null | awk '/^tps/ {print int($3); exit}'; }

during_extract() {  # runs pgbench while a paced extract runs; prints "tps rows_per_sec"
    rm -rf "$work/state"
    "$bin" extract --job "$work/job.json" --connections "$work/connections.json" --state-dir "$work/state" \
        --job-id prod --log-level warning >"$work/summary" &
    local extract=$!
    sleep 2
    local t; t=$(tps)
    kill -TERM "$extract" 2>/dev/null || true
    wait "$extract" || true
    local rate; rate=$(grep -o 'rows_per_sec=[0-9]*' "$work/summary" | cut -d= -f2)
    echo "$t ${rate:-0}"
}

psql -q -X "$dsn" -c "SELECT count(*) FROM bench_events" >/dev/null
baseline=$(tps)
read -r with_index rate_index < <(during_extract)
psql -q -X "$dsn" -c "DROP INDEX IF EXISTS bench_events_updated_at_id_idx" >/dev/null
read -r without_index rate_noindex < <(during_extract)

pct() { echo "scale=1; 100 * $1 / $baseline" | bc; }
printf 'pgbench: %s clients, scale 10, %s s per measure; extract capped at %s rows/s\n' "$clients" "$seconds" "$cap"
printf '%-44s %6s tps\n' "baseline (nothing else running)" "$baseline"
printf '%-44s %6s tps (%s%%), extract %s rows/s\n' "during extract, index on the cursor" "$with_index" "$(pct "$with_index")" "$rate_index"
printf '%-44s %6s tps (%s%%), extract %s rows/s\n' "during extract, no index on the cursor" "$without_index" "$(pct "$without_index")" "$rate_noindex"
