#!/usr/bin/env bash
# Benchmark of the delete reconciliation (docs/extraction.md, "Deletes"), on bench/seed.sh's table:
#   full       timbal-connector extract of the whole table (deletes "keep"): the reference, 1.00x
#   reconcile  the same job run again with deletes "hard" after 1% of the rows were deleted and the
#              table vacuumed: an incremental catch-up that reads nothing new, then the key-only pass
# Reports the ratio, the blocks the reconcile run read or hit (pg_statio_user_tables and
# pg_statio_user_indexes: heap, TOAST and every index of the table) against the primary key
# index's size plus the visibility map, the connector's peak RSS (/usr/bin/time), and checks the
# KB holds exactly the source's keys afterwards. Medians of ROUNDS.
# Usage: bench/deletes.sh [ROWS] [ROUNDS]   (default 1,000,000 and 3; --10m means 10,000,000 and 1)
# Uses $BENCH_PG_DSN or a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--10m" ]]; then set -- 10000000 1; fi
rows=${1:-1000000}
rounds=${2:-3}
source bench/lib/workdir.sh
bench_workdir deletes

echo "building release binary..." >&2
swift build -c release --product timbal-connector >/dev/null
bin=$(swift build -c release --show-bin-path)/timbal-connector

cat > "$work/connections.json" <<JSON
{"bench": {"kind": "postgres", "dsn": "$BENCH_PG_DSN"}}
JSON
job() {  # $1 = deletes
    cat <<JSON
{"kb_id": 1, "dest_table": "bench_events", "placement": "local", "mode": "create", "deletes": "$1",
 "source": {"kind": "postgres", "connection_ref": "bench", "table": "bench_events", "cursor_column": "updated_at"}}
JSON
}
job keep > "$work/keep.json"
job hard > "$work/hard.json"

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
q() { psql -X -At "$BENCH_PG_DSN" -c "$1"; }
# Blocks of the table and its indexes read or hit so far (the server's cumulative counters).
blocks() {
    q "SELECT pg_stat_clear_snapshot()" >/dev/null
    q "SELECT coalesce(t.heap_blks_read, 0) + coalesce(t.heap_blks_hit, 0) + coalesce(t.toast_blks_read, 0) + coalesce(t.toast_blks_hit, 0)
              + coalesce((SELECT sum(i.idx_blks_read + i.idx_blks_hit) FROM pg_statio_user_indexes i WHERE i.relid = t.relid), 0)
       FROM pg_statio_user_tables t WHERE t.relname = 'bench_events'"
}

run() {  # $1 = job file, $2 = label; prints seconds
    local start; start=$(now)
    /usr/bin/time -f "%M" -o "$work/rss-$2" "$bin" extract --job "$work/$1" --connections "$work/connections.json" \
        --state-dir "$work/state" --job-id bench --log-level warning >"$work/summary-$2"
    elapsed "$start"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

fulls=(); recs=(); ratios=(); peak=0
for round in $(seq 1 "$rounds"); do
    echo "round $round: seeding $rows rows..." >&2
    bench/seed.sh "$BENCH_PG_DSN" "$rows"
    q "SELECT count(*) FROM bench_events" >/dev/null   # warm the cache
    rm -rf "$work/state"
    f=$(run keep.json full)
    # 1% of the rows, spread over the key range; VACUUM keeps the visibility map current.
    q "DELETE FROM bench_events WHERE id % 100 = 37" >/dev/null
    q "VACUUM ANALYZE bench_events" >/dev/null
    pk_blocks=$(q "SELECT pg_relation_size('bench_events_pkey') / current_setting('block_size')::int")
    vm_blocks=$(q "SELECT pg_relation_size('bench_events', 'vm') / current_setting('block_size')::int")
    sleep 1; before=$(blocks)
    r=$(run hard.json reconcile)
    sleep 1.5; after=$(blocks)
    read_blocks=$((after - before))
    rss=$(cat "$work/rss-reconcile"); (( rss > peak )) && peak=$rss
    rss_full=$(cat "$work/rss-full"); (( rss_full > peak )) && peak=$rss_full
    kb=$(sqlite3 "$work/state/kb/1.sqlite" "SELECT count(*) FROM bench_events")
    src=$(q "SELECT count(*) FROM bench_events")
    [[ "$kb" == "$src" ]] || { echo "KB holds $kb rows, the source $src" >&2; exit 1; }
    grep -q "rows_deleted=$((rows / 100))" "$work/summary-reconcile" || { echo "unexpected summary: $(cat "$work/summary-reconcile")" >&2; exit 1; }
    ratio=$(echo "scale=3; $r / $f" | bc)
    echo "round $round: full ${f}s reconcile ${r}s (${ratio}x) blocks ${read_blocks} (pk index ${pk_blocks}, vm ${vm_blocks}, $(echo "scale=2; $read_blocks / ($pk_blocks + $vm_blocks)" | bc)x) rss full ${rss_full} KiB reconcile ${rss} KiB" >&2
    fulls+=("$f"); recs+=("$r"); ratios+=("$ratio")
done
echo "rows=$rows rounds=$rounds full=$(median "${fulls[@]}")s reconcile=$(median "${recs[@]}")s ratio=$(median "${ratios[@]}")x blocks=$read_blocks pk_index_blocks=$pk_blocks vm_blocks=$vm_blocks blocks_ratio=$(echo "scale=2; $read_blocks / ($pk_blocks + $vm_blocks)" | bc)x peak_rss=$(echo "scale=1; $peak / 1024" | bc)MiB"
echo "reconcile summary: $(cat "$work/summary-reconcile")"
