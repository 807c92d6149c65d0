#!/usr/bin/env bash
# Benchmark: the same table through the daemon twice, placement local vs hosted (devplane), same run.
# Usage: bench/hosted.sh [ROWS] [SHAPE]   (default 1,000,000, correlated). Uses $BENCH_PG_DSN or a
# throwaway cluster. SHAPE is bench/seed.sh's: correlated (updated_at rising with id) or uncorrelated
# (updated_at random over years, issue #19). BENCH_JOB_TIMEOUT_S (default 600) fails a job that has
# not ended by then; BENCH_HOSTED_ROUNDS (default 2) the rounds, the best of each kept.
# Prints both durations (dispatch to `completed`, as the job view reports), the ratio hosted/local,
# and the peak size of each KB's WAL (sampled at every poll of the job, every 0.5 s).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
shape=${2:-correlated}
job_timeout=${BENCH_JOB_TIMEOUT_S:-600}
work=$(mktemp -d /tmp/timbal-bench-hosted.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -d "$work/pg" ]] && scripts/pg-throwaway.sh stop "$work/pg"
    rm -rf "$work"
}
trap cleanup EXIT

if [[ -z "${BENCH_PG_DSN:-}" ]]; then
    BENCH_PG_DSN=$(scripts/pg-throwaway.sh start "$work/pg")
fi

echo "building release binaries..." >&2
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)

echo "seeding $rows rows..." >&2
bench/seed.sh "$BENCH_PG_DSN" "$rows" "$shape"

port=$(scripts/free-port.sh 18090)
"$bin/timbal-devplane" --port "$port" --data-dir "$work/plane" --admin-token bench --kbs 1 >"$work/plane.log" 2>&1 &
pids+=($!)
plane="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$plane/healthz" >/dev/null && break; sleep 0.1; done
auth=(-H "Authorization: Bearer bench")
token=$(curl -sf "${auth[@]}" -X POST "$plane/orgs/org_dev/connectors/enrollment-tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
connector=$("$bin/timbal-connector" enroll --url "$plane" --token "$token" --state-dir "$work/state" --log-level warning)
echo "{\"bench\": {\"kind\": \"postgres\", \"dsn\": \"$BENCH_PG_DSN\"}}" >"$work/connections.json"
echo "{\"control_plane_url\": \"$plane\", \"state_dir\": \"$work/state\", \"connections\": \"connections.json\", \"metrics_address\": null}" >"$work/config.json"
"$bin/timbal-connector" run --config "$work/config.json" --log-level warning >"$work/connector.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "${auth[@]}" "$plane/orgs/org_dev/connectors/$connector" | grep -q '"online":true' && break; sleep 0.1; done

run_job() {
    local placement=$1 dest=$2
    local body="{\"kb_id\": 1, \"dest_table\": \"$dest\", \"placement\": \"$placement\", \"source\": {\"kind\": \"postgres\", \"connection_ref\": \"bench\", \"table\": \"bench_events\", \"cursor_column\": \"updated_at\"}}"
    local job view state wal started=$SECONDS
    job=$(curl -sf "${auth[@]}" -X POST "$plane/orgs/org_dev/connectors/$connector/jobs" -d "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
    while true; do
        view=$(curl -sf "${auth[@]}" "$plane/orgs/org_dev/connectors/$connector/jobs/$job")
        # (grep, not a Python start-up per poll: the poll must not compete for the two cores)
        state=$(echo "$view" | grep -o '"state":"[a-z_]*"' | head -1 | cut -d'"' -f4)
        [[ "$state" == completed || "$state" == failed ]] && break
        wal=$(stat -c %s "$work/state/kb/1.sqlite-wal" 2>/dev/null || echo 0); (( wal > peak_wal_local )) && peak_wal_local=$wal
        wal=$(stat -c %s "$work/plane/kb/1.sqlite-wal" 2>/dev/null || echo 0); (( wal > peak_wal_hosted )) && peak_wal_hosted=$wal
        (( SECONDS - started < job_timeout )) || { echo "job $job ($placement) still $state after ${job_timeout}s" >&2; exit 1; }
        sleep 0.5
    done
    [[ "$state" == completed ]] || { echo "job failed: $view" >&2; exit 1; }
    echo "$view" | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["duration_ms"] / 1000.0, v["rows_emitted"])'
    echo "$peak_wal_local $peak_wal_hosted" >>"$work/wal"   # (a subshell: its peaks are added up below)
}
peak_wal_local=0; peak_wal_hosted=0

best_local=999999; best_hosted=999999
for round in $(seq 1 "${BENCH_HOSTED_ROUNDS:-2}"); do
    read -r local_s local_rows < <(run_job local "local_$round")
    read -r hosted_s hosted_rows < <(run_job hosted "hosted_$round")
    echo "round $round: local ${local_s}s ($local_rows rows) hosted ${hosted_s}s ($hosted_rows rows)" >&2
    # A first load by key is followed by a cursor catch-up that reads the high-water mark's rows
    # again (merged by key): a few rows more than the table; the KBs' distinct keys are checked below.
    for n in "$local_rows" "$hosted_rows"; do
        (( n >= rows && n <= rows + 100 )) || { echo "rows read ($n) not within $rows..$((rows + 100))" >&2; exit 1; }
    done
    local_landed=$(sqlite3 "$work/state/kb/1.sqlite" "SELECT count(DISTINCT id) FROM local_$round")
    [[ "$local_landed" == "$rows" ]] || { echo "local KB holds $local_landed distinct rows, expected $rows" >&2; exit 1; }
    best_local=$(echo "if ($local_s < $best_local) $local_s else $best_local" | bc)
    best_hosted=$(echo "if ($hosted_s < $best_hosted) $hosted_s else $best_hosted" | bc)
done
landed=$(curl -sf "${auth[@]}" -X POST "$plane/k2/1/query" -d '{"sql": "SELECT count(DISTINCT id) FROM hosted_1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0][0])')
[[ "$landed" == "$rows" ]] || { echo "hosted KB holds $landed distinct rows, expected $rows" >&2; exit 1; }
peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/${pids[1]}/status")
read -r peak_wal_local peak_wal_hosted < <(awk '$1 > l {l = $1} $2 > h {h = $2} END {print l + 0, h + 0}' "$work/wal")
printf 'rows:                   %s (%s)\n' "$rows" "$shape"
printf 'daemon, local KB:       %.2f s\n' "$best_local"
printf 'daemon, hosted KB:      %.2f s\n' "$best_hosted"
printf 'ratio (hosted/local):   %s\n' "$(echo "scale=3; $best_hosted / $best_local" | bc)"
printf 'daemon peak RSS:        %.1f MiB\n' "$(echo "scale=1; $peak_kib / 1024" | bc)"
printf 'peak WAL, local KB:     %.1f MiB (sampled every 0.5 s)\n' "$(echo "scale=1; $peak_wal_local / 1048576" | bc)"
printf 'peak WAL, hosted KB:    %.1f MiB (sampled every 0.5 s)\n' "$(echo "scale=1; $peak_wal_hosted / 1048576" | bc)"
