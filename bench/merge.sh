#!/usr/bin/env bash
# Merges alone (issue #19's target 2), quicker than bench/any-order.sh at 10M rows: one first load,
# then the same changed rows merged ROUNDS times, each time into a fresh copy of the loaded KB.
#
# Usage: flock /tmp/timbal-cpu.lock bench/merge.sh [ROWS] [ROUNDS]
#   ROWS 1,000,000 and ROUNDS 3 by default; BENCH_MERGE_ROWS changed rows (100,000).
#   Uses $BENCH_PG_DSN or a throwaway cluster; builds the tree's release binary first.
# Steps: bench/seed.sh's uncorrelated table (`bench_merge_only`, written in id order, index on
# (updated_at, id)); a first load in mode append (its rows/s is the append rate); BENCH_MERGE_ROWS
# random rows get distinct new updated_at values above every other, in an order unrelated to id;
# then ROUNDS incremental runs of the same job id, each on a copy of the state after the first load.
# Prints each run's summary, wall, peak RSS and the KB's peak WAL (polled every 20 ms), then the
# median merge rate over the first load's rate.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
rounds=${2:-3}
merge_rows=${BENCH_MERGE_ROWS:-100000}
(( merge_rows < rows )) || merge_rows=$(( rows / 10 ))

source bench/lib/workdir.sh
bench_workdir merge
dsn=$BENCH_PG_DSN
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$dsn" -c "$1"; }

echo "building release binary..." >&2
swift build -c release --product timbal-connector >/dev/null
bin=$(swift build -c release --show-bin-path)/timbal-connector

bench/seed.sh "$dsn" "$rows" uncorrelated bench_merge_only >&2
cat > "$work/connections.json" <<JSON
{"bench": {"kind": "postgres", "dsn": "$dsn"}}
JSON
cat > "$work/job.json" <<JSON
{"kb_id": 1, "dest_table": "bench_events", "placement": "local", "mode": "append",
 "source": {"kind": "postgres", "connection_ref": "bench", "table": "bench_merge_only", "cursor_column": "updated_at"}}
JSON

# run STATE: one extract; prints "wall_s rss_kib peak_wal_bytes rows_per_sec" and keeps its summary line.
run() {
    local state=$1 peak_file="$work/walpeak" start end
    echo 0 >"$peak_file"
    ( peak=0; while :; do s=$(stat -c %s "$state/kb/1.sqlite-wal" 2>/dev/null || echo 0)
        (( s > peak )) && { peak=$s; echo "$peak" >"$peak_file"; }; sleep 0.02; done ) &
    local watcher=$!
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$work/rss" "$bin" extract --job "$work/job.json" --connections "$work/connections.json" \
        --state-dir "$state" --job-id bench-merge-only >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; kill "$watcher"; exit 1; }
    end=$(date +%s.%N)
    kill "$watcher"; wait "$watcher" 2>/dev/null || true
    local summary; summary=$(grep '^completed:' "$work/out")
    echo "$summary" >&2
    printf '%.3f %s %s %s\n' "$(echo "$end - $start" | bc)" "$(tail -1 "$work/rss")" "$(cat "$peak_file")" \
        "$(grep -o 'rows_per_sec=[0-9]*' <<<"$summary" | cut -d= -f2)"
}

read -r load_s load_rss load_wal load_rate < <(run "$work/loaded")
[[ -n "${load_rate:-}" ]] || { echo "the first load failed" >&2; exit 1; }
echo "first load: ${load_s} s, ${load_rate} rows/s, peak RSS ${load_rss} KiB, peak WAL ${load_wal} B" >&2
sql "WITH picked AS (SELECT id FROM bench_merge_only ORDER BY random() LIMIT $merge_rows),
          ranked AS (SELECT id, row_number() OVER (ORDER BY random()) AS r FROM picked),
          top AS (SELECT max(updated_at) AS m FROM bench_merge_only)
     UPDATE bench_merge_only t SET updated_at = top.m + ranked.r * interval '1 millisecond'
     FROM ranked, top WHERE t.id = ranked.id" >/dev/null
sql "VACUUM ANALYZE bench_merge_only" >/dev/null

rates=()
for round in $(seq 1 "$rounds"); do
    rm -rf "$work/merge"; cp -r "$work/loaded" "$work/merge"; sync
    read -r s rss wal rate < <(run "$work/merge")
    [[ -n "${rate:-}" ]] || { echo "merge run $round failed" >&2; exit 1; }
    echo "merge $round: ${s} s, ${rate} rows/s, peak RSS ${rss} KiB, peak WAL ${wal} B" >&2
    rates+=("$rate")
done
median=$(printf '%s\n' "${rates[@]}" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}')
echo "## merges: $rows rows, $merge_rows changed, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "first load ${load_rate} rows/s; merge median ${median} rows/s over ${rounds} rounds = $(echo "scale=3; $median / $load_rate" | bc) x the first load (target >= 0.333)"
