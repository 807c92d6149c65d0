#!/usr/bin/env bash
# Benchmark, side by side in one run on the same table (bench/seed.sh), medians of ROUNDS:
#   floor      COPY (SELECT ... ORDER BY updated_at, id) TO STDOUT (FORMAT binary) > /dev/null
#   pipe       psql COPY (the same ordered SELECT) CSV | sqlite3 .import          (the reference, 1.00x)
#   indexed    timbal-connector extract, index on (updated_at, id)
#   unindexed  timbal-connector extract, no index on the cursor
# plus the connector's peak RSS and, for each connector run, the heap blocks it read against the
# table's size (from its summary line).
# Usage: bench/extract.sh [ROWS] [ROUNDS]   (default 1,000,000 and 3). Uses $BENCH_PG_DSN or a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
rounds=${2:-3}
source bench/lib/workdir.sh
bench_workdir extract

echo "building release binary..." >&2
swift build -c release --product timbal-connector >/dev/null
bin=$(swift build -c release --show-bin-path)/timbal-connector

echo "seeding $rows rows..." >&2
bench/seed.sh "$BENCH_PG_DSN" "$rows"

cat > "$work/connections.json" <<JSON
{"bench": {"kind": "postgres", "dsn": "$BENCH_PG_DSN"}}
JSON
cat > "$work/job.json" <<JSON
{"kb_id": 1, "dest_table": "bench_events", "placement": "local", "mode": "create",
 "source": {"kind": "postgres", "connection_ref": "bench", "table": "bench_events", "cursor_column": "updated_at"}}
JSON
ordered="SELECT * FROM bench_events ORDER BY updated_at, id"

# Warm the source's cache so no contender pays for the first read.
psql -q -X "$BENCH_PG_DSN" -c "SELECT count(*) FROM bench_events" >/dev/null

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

floor_run() {
    local start; start=$(now)
    psql -X -q "$BENCH_PG_DSN" -c "COPY ($ordered) TO STDOUT (FORMAT binary)" >/dev/null
    elapsed "$start"
}

pipe_run() {
    rm -f "$work/pipe.sqlite"
    sqlite3 "$work/pipe.sqlite" "CREATE TABLE bench_events (id INTEGER, updated_at TEXT, amount TEXT, title TEXT, flag INTEGER, score REAL, payload TEXT, day TEXT, ref TEXT)"
    local start; start=$(now)
    psql -X -q "$BENCH_PG_DSN" -c "\\copy ($ordered) TO STDOUT WITH (FORMAT csv)" \
        | sqlite3 "$work/pipe.sqlite" ".import --csv /dev/stdin bench_events"
    elapsed "$start"
}

connector_run() {  # $1 = label for the summary file
    rm -rf "$work/state"
    local start; start=$(now)
    /usr/bin/time -f "%M" -o "$work/rss" "$bin" extract --job "$work/job.json" --connections "$work/connections.json" \
        --state-dir "$work/state" --job-id bench --log-level warning >"$work/summary-$1"
    elapsed "$start"
    local landed; landed=$(sqlite3 "$work/state/kb/1.sqlite" "SELECT count(*) FROM bench_events")
    [[ "$landed" == "$rows" ]] || { echo "connector landed $landed rows, expected $rows" >&2; exit 1; }
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

floors=(); pipes=(); indexed=(); unindexed=(); peak=0
for round in $(seq 1 "$rounds"); do
    psql -q -X "$BENCH_PG_DSN" -c "CREATE INDEX IF NOT EXISTS bench_cursor ON bench_events (updated_at, id)" >/dev/null
    f=$(floor_run); p=$(pipe_run); i=$(connector_run indexed); r=$(cat "$work/rss"); (( r > peak )) && peak=$r
    psql -q -X "$BENCH_PG_DSN" -c "DROP INDEX IF EXISTS bench_cursor; DROP INDEX IF EXISTS bench_events_updated_at_id_idx" >/dev/null
    u=$(connector_run unindexed); r=$(cat "$work/rss"); (( r > peak )) && peak=$r
    echo "round $round: floor ${f}s pipe ${p}s indexed ${i}s unindexed ${u}s" >&2
    floors+=("$f"); pipes+=("$p"); indexed+=("$i"); unindexed+=("$u")
done

mp=$(median "${pipes[@]}")
line() { printf '%-44s %6.2f s  %5.2fx\n' "$1" "$2" "$(echo "scale=3; $2 / $mp" | bc)"; }
printf 'rows: %s, medians of %s rounds, ratios to the ordered pipe\n' "$rows" "$rounds"
line "read floor (ordered COPY binary > /dev/null)" "$(median "${floors[@]}")"
line "ordered psql COPY CSV | sqlite3 .import" "$mp"
line "connector, index on (updated_at, id)" "$(median "${indexed[@]}")"
line "connector, no index on the cursor" "$(median "${unindexed[@]}")"
printf 'connector peak RSS: %.1f MiB\n' "$(echo "scale=1; $peak / 1024" | bc)"
echo "indexed run:   $(cat "$work/summary-indexed")"
echo "unindexed run: $(cat "$work/summary-unindexed")"
