#!/usr/bin/env bash
# Benchmark: the connector's extract vs `psql COPY ... TO STDOUT | sqlite3 .import`, same table, same run.
# Usage: bench/extract.sh [ROWS]   (default 1,000,000). Uses $BENCH_PG_DSN or a throwaway cluster.
# Prints both times, the ratio connector/pipe (lower is better) and the connector's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
work=$(mktemp -d /tmp/timbal-bench.XXXXXX)
chmod 755 "$work"

if [[ -z "${BENCH_PG_DSN:-}" ]]; then
    BENCH_PG_DSN=$(scripts/pg-throwaway.sh start "$work/pg")
    trap 'scripts/pg-throwaway.sh stop "$work/pg"; rm -rf "$work"' EXIT
else
    trap 'rm -rf "$work"' EXIT
fi

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

# Warm the source's cache so neither side pays for the first read.
psql -q -X "$BENCH_PG_DSN" -c "SELECT count(*) FROM bench_events" >/dev/null

now() { date +%s.%N; }

pipe_run() {
    rm -f "$work/pipe.sqlite"
    sqlite3 "$work/pipe.sqlite" "CREATE TABLE bench_events (id INTEGER, updated_at TEXT, amount TEXT, title TEXT, flag INTEGER, score REAL, payload TEXT, day TEXT, ref TEXT)"
    local start end
    start=$(now)
    psql -X -q "$BENCH_PG_DSN" -c "\\copy bench_events TO STDOUT WITH (FORMAT csv)" \
        | sqlite3 "$work/pipe.sqlite" ".import --csv /dev/stdin bench_events"
    end=$(now)
    echo "$end - $start" | bc
}

connector_run() {
    rm -rf "$work/state"
    local start end
    start=$(now)
    /usr/bin/time -f "%M" -o "$work/rss" "$bin" extract --job "$work/job.json" --connections "$work/connections.json" \
        --state-dir "$work/state" --job-id bench --log-level warning >"$work/summary"
    end=$(now)
    echo "$end - $start" | bc
}

# Alternate the two, three rounds each, and keep each side's best: the machine is noisy.
best_pipe=999999; best_conn=999999; peak=0
for round in 1 2 3; do
    p=$(pipe_run); c=$(connector_run); r=$(cat "$work/rss")
    echo "round $round: pipe ${p}s connector ${c}s (rss ${r} KiB)" >&2
    best_pipe=$(echo "if ($p < $best_pipe) $p else $best_pipe" | bc)
    best_conn=$(echo "if ($c < $best_conn) $c else $best_conn" | bc)
    (( r > peak )) && peak=$r
done

landed=$(sqlite3 "$work/state/kb/1.sqlite" "SELECT count(*) FROM bench_events")
[[ "$landed" == "$rows" ]] || { echo "connector landed $landed rows, expected $rows" >&2; exit 1; }

ratio=$(echo "scale=3; $best_conn / $best_pipe" | bc)
printf 'rows:                 %s\n' "$rows"
printf 'psql COPY | sqlite3:  %.2f s\n' "$best_pipe"
printf 'timbal-connector:     %.2f s\n' "$best_conn"
printf 'ratio (connector/pipe): %s\n' "$ratio"
printf 'connector peak RSS:   %.1f MiB\n' "$(echo "scale=1; $peak / 1024" | bc)"
