#!/usr/bin/env bash
# Benchmark for issue #19: extracts whatever the cursor's order, side by side in one run.
#
# Usage: flock /tmp/timbal-cpu.lock bench/any-order.sh [--10m] [ROWS] [ROUNDS]
#   ROWS 1,000,000 and ROUNDS 3 by default; --10m means ROWS=10,000,000 and ROUNDS 1 (unless given).
#   Uses $BENCH_PG_DSN or a throwaway cluster; builds the tree's release binary first.
#   Knobs (environment): BENCH_TIMEOUT_S (a connector run's limit, default 150 s per million rows,
#   at least 60), BENCH_SLOW_S (a contender slower than this in its first round runs no more
#   rounds; default 10 s per million rows; BENCH_SLOW_ROUNDS=N lets it run N rounds), BENCH_WAL_CAP_MB (a connector run whose KB WAL passes
#   this is killed and reported as such; default 20480), BENCH_MERGE_ROWS (100,000).
#
# Tables (bench/seed.sh): bench_corr (updated_at rising with id and the heap), bench_unc (updated_at
# distinct, random over five years: pg_stats correlation ~0), bench_unc_noidx (bench_unc's rows,
# no index on the cursor), bench_merge (bench_unc's rows, made anew for each merge round).
# Contenders, in this order in each round:
#   corr      connector extract of bench_corr, index on (updated_at, id)
#   unc       connector extract of bench_unc, index on (updated_at, id)
#   pipe      psql \copy (SELECT * FROM bench_unc ORDER BY updated_at, id) TO STDOUT csv | sqlite3 .import
#   adbc      bench/adbc.py, the same ordered SELECT through ADBC into SQLite (when the Python
#             packages adbc-driver-postgresql, adbc-driver-sqlite and pyarrow are installed)
#   noidx     connector extract of bench_unc_noidx (no index on the cursor)
#   merge     connector extract of bench_merge (mode append: the first load), then
#             BENCH_MERGE_ROWS random rows get distinct new updated_at values above every existing
#             one, in an order unrelated to id, then the same job id runs again: an incremental run
#             that merges them by key
# Every connector run goes through bench/connrun.py (wall, peak KB WAL polled every 50 ms, first
# batch landed, per-batch gaps from its `batch landed` debug lines) under /usr/bin/time (peak RSS);
# around it: pg_stat_database.temp_bytes and pg_statio_user_tables heap blocks (deltas).
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
big=0
for arg in "$@"; do
    case "$arg" in
    --10m) big=1 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) args+=("$arg") ;;
    esac
done
if (( big )); then rows=${args[0]:-10000000}; rounds=${args[1]:-1}
else rows=${args[0]:-1000000}; rounds=${args[1]:-3}; fi
merge_rows=${BENCH_MERGE_ROWS:-100000}
(( merge_rows < rows )) || merge_rows=$(( rows / 10 ))
millions=$(echo "scale=3; $rows / 1000000" | bc)
timeout_s=${BENCH_TIMEOUT_S:-$(echo "t = 150 * $millions; if (t < 60) t = 60; t" | bc)}
slow_s=${BENCH_SLOW_S:-$(echo "t = 10 * $millions; if (t < 5) t = 5; t" | bc)}
slow_rounds=${BENCH_SLOW_ROUNDS:-1}
wal_cap=$(( ${BENCH_WAL_CAP_MB:-20480} << 20 ))

source bench/lib/workdir.sh
bench_workdir anyorder
dsn=$BENCH_PG_DSN
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$dsn" -c "$1"; }

echo "building release binary..." >&2
swift build -c release --product timbal-connector >/dev/null
bin=$(swift build -c release --show-bin-path)/timbal-connector
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- Sources Package.swift 2>/dev/null | grep -q . && echo "+local changes" || true)

have_adbc=0
if python3 -c 'import adbc_driver_postgresql.dbapi, adbc_driver_sqlite.dbapi, pyarrow' 2>/dev/null; then have_adbc=1
else echo "ADBC: python packages adbc-driver-postgresql/adbc-driver-sqlite/pyarrow not installed, skipped" >&2; fi

echo "seeding $rows rows twice (correlated, uncorrelated)..." >&2
bench/seed.sh "$dsn" "$rows" correlated bench_corr >"$work/corr.stats"
bench/seed.sh "$dsn" "$rows" uncorrelated bench_unc >"$work/unc.stats"
copy_of_unc() {  # $1 = table, $2 = 1 for the cursor index
    sql "SET client_min_messages = warning; DROP TABLE IF EXISTS $1;
         CREATE TABLE $1 AS SELECT * FROM bench_unc ORDER BY id; ALTER TABLE $1 ADD PRIMARY KEY (id);" >/dev/null
    if [[ "$2" == 1 ]]; then sql "CREATE INDEX ON $1 (updated_at, id)" >/dev/null; fi
    sql "VACUUM ANALYZE $1" >/dev/null
}
copy_of_unc bench_unc_noidx 0
cat "$work/corr.stats" "$work/unc.stats" >&2
heap_bytes=$(sql "SELECT pg_relation_size('bench_unc')")
heap_blocks=$(( heap_bytes / 8192 ))

cat > "$work/connections.json" <<JSON
{"bench": {"kind": "postgres", "dsn": "$dsn"}}
JSON
job_file() {  # $1 = source table, $2 = mode
    cat > "$work/job-$1.json" <<JSON
{"kb_id": 1, "dest_table": "bench_events", "placement": "local", "mode": "$2",
 "source": {"kind": "postgres", "connection_ref": "bench", "table": "$1", "cursor_column": "updated_at"}}
JSON
    echo "$work/job-$1.json"
}

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
max() { printf '%s\n' "$@" | sort -g | tail -1; }
ratio() { echo "scale=3; $1 / $2" | bc; }
temp_bytes() {  # the database's temp bytes, once the server's statistics have settled
    local a b
    b=$(sql "SELECT pg_stat_clear_snapshot(); SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()" | tail -1)
    for _ in 1 2 3 4 5 6; do
        sleep 0.3
        a=$b
        b=$(sql "SELECT pg_stat_clear_snapshot(); SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()" | tail -1)
        [[ "$a" == "$b" ]] && break
    done
    echo "$b"
}
heap_reads() {  # $1 = table: heap blocks read or hit so far
    sql "SELECT coalesce(heap_blks_read, 0) + coalesce(heap_blks_hit, 0) FROM pg_statio_user_tables WHERE relname = '$1'"
}
field() {  # $1 = summary line, $2 = key
    grep -o "\b$2=[^ ]*" <<<"$1" | head -1 | cut -d= -f2 | tr -d 's'
}
json() {  # $1 = file, $2 = python expression on r
    python3 -c "import json,sys; r = json.load(open(sys.argv[1])); v = $2; print('' if v is None else v)" "$1"
}

# connector_run NAME TABLE MODE STATE [keep]: one extract; writes $work/NAME.* and appends a line
# to $work/runs (name wall rss_kib peak_wal kb_bytes temp_bytes heap_blocks table_blocks
# statio_blocks first_batch flatness rows_per_sec rows merged aborted)
connector_run() {
    local name=$1 table=$2 mode=$3 state=$4 keep=${5:-}
    [[ -n "$keep" ]] || rm -rf "$state"
    local job; job=$(job_file "$table" "$mode")
    local t0 s0; t0=$(temp_bytes); s0=$(heap_reads "$table")
    rm -f "$work/$name.rss"
    python3 bench/connrun.py --out "$work/$name.json" --watch "$state" --timeout "$timeout_s" --wal-cap "$wal_cap" -- \
        /usr/bin/time -f "%M" -o "$work/$name.rss" "$bin" extract --job "$job" --connections "$work/connections.json" \
        --state-dir "$state" --job-id "bench-$table" --log-level debug
    local t1 s1; t1=$(temp_bytes); s1=$(heap_reads "$table")
    local summary wall rc aborted rss kb
    summary=$(json "$work/$name.json" 'r["summary"]')
    wall=$(json "$work/$name.json" 'round(r["wall"], 3)')
    rc=$(json "$work/$name.json" 'r["rc"]')
    aborted=$(json "$work/$name.json" 'r["aborted"]')
    rss=$(cat "$work/$name.rss" 2>/dev/null | tail -1 | grep -E '^[0-9]+$' || echo 0)
    kb=$(stat -c %s "$state/kb/1.sqlite" 2>/dev/null || echo 0)
    if [[ -z "$aborted" && "$rc" != 0 ]]; then
        aborted="exit $rc"
        echo "$name failed (exit $rc): $(json "$work/$name.json" '" | ".join(r["log_tail"][-3:])')" >&2
    fi
    local rows_done merged rps
    rows_done=$(field "$summary" rows); merged=$(field "$summary" rows_merged); rps=$(field "$summary" rows_per_sec)
    [[ -z "$aborted" && -n "$rows_done" && -z "$rps" ]] && rps=$(echo "$rows_done / $wall" | bc)
    local values=("$name" "$wall" "$rss" "$(json "$work/$name.json" 'r["peak_wal"]')" "$kb" "$(( t1 - t0 ))"
        "$(field "$summary" heap_blocks)" "$(field "$summary" table_blocks)" "$(( s1 - s0 ))"
        "$(json "$work/$name.json" 'None if r["first_batch_s"] is None else round(r["first_batch_s"], 3)')"
        "$(json "$work/$name.json" 'None if r["flatness"] is None else round(r["flatness"]["ratio"], 3)')"
        "$rps" "$rows_done" "$merged" "$(tr ' ' '_' <<<"${aborted:-ok}")")
    local v out=()
    for v in "${values[@]}"; do out+=("${v:--}"); done
    echo "${out[*]}" >>"$work/runs"
    echo "$summary" >"$work/$name.summary"
    echo "$aborted"
}
kb_count() { sqlite3 "$1/kb/1.sqlite" "SELECT count(*) FROM bench_events" 2>/dev/null || echo "?"; }
check_rows() {  # $1 = state, $2 = label, $3 = aborted
    [[ -n "$3" ]] && return 0
    local n; n=$(kb_count "$1")
    [[ "$n" == "$rows" ]] || { echo "$2 landed $n rows, expected $rows" >&2; exit 1; }
}

pipe_run() {
    rm -f "$work/pipe.sqlite"
    sqlite3 "$work/pipe.sqlite" "CREATE TABLE bench_events (id INTEGER, updated_at TEXT, amount TEXT, title TEXT, flag INTEGER, score REAL, payload TEXT, day TEXT, ref TEXT)"
    local t0; t0=$(temp_bytes)
    local start; start=$(now)
    psql -X -q "$dsn" -c "\\copy (SELECT * FROM bench_unc ORDER BY updated_at, id) TO STDOUT WITH (FORMAT csv)" \
        | sqlite3 "$work/pipe.sqlite" ".import --csv /dev/stdin bench_events"
    local wall; wall=$(printf '%.3f' "$(echo "$(now) - $start" | bc)")
    local n; n=$(sqlite3 "$work/pipe.sqlite" "SELECT count(*) FROM bench_events")
    [[ "$n" == "$rows" ]] || { echo "pipe landed $n rows, expected $rows" >&2; exit 1; }
    echo "pipe $wall $(stat -c %s "$work/pipe.sqlite") $(( $(temp_bytes) - t0 ))" >>"$work/others"
    echo "$wall"
}

adbc_run() {
    rm -f "$work/adbc.sqlite"
    local start; start=$(now)
    local n; n=$(python3 bench/adbc.py "$dsn" "$work/adbc.sqlite" bench_events "SELECT * FROM bench_unc ORDER BY updated_at, id")
    local wall; wall=$(printf '%.3f' "$(echo "$(now) - $start" | bc)")
    [[ "$n" == "$rows" ]] || { echo "ADBC landed $n rows, expected $rows" >&2; exit 1; }
    echo "adbc $wall $(stat -c %s "$work/adbc.sqlite") 0" >>"$work/others"
    echo "$wall"
}

merge_round() {  # $1 = round
    copy_of_unc bench_merge 1
    local state="$work/state-merge"
    local aborted; aborted=$(connector_run "merge-load-$1" bench_merge append "$state")
    check_rows "$state" "merge first load" "$aborted"
    [[ -z "$aborted" ]] || { echo "$aborted"; return; }
    # Distinct new values above every existing one, handed out in an order unrelated to id.
    sql "WITH picked AS (SELECT id FROM bench_merge ORDER BY random() LIMIT $merge_rows),
              ranked AS (SELECT id, row_number() OVER (ORDER BY random()) AS r FROM picked),
              top AS (SELECT max(updated_at) AS m FROM bench_merge)
         UPDATE bench_merge t SET updated_at = top.m + ranked.r * interval '1 millisecond'
         FROM ranked, top WHERE t.id = ranked.id" >/dev/null
    sql "VACUUM ANALYZE bench_merge" >/dev/null
    aborted=$(connector_run "merge-inc-$1" bench_merge append "$state" keep)
    check_rows "$state" "merge incremental run" "$aborted"
    echo "$aborted"
}

for t in bench_corr bench_unc bench_unc_noidx; do sql "SELECT count(*) FROM $t" >/dev/null; done
: >"$work/runs"; : >"$work/others"
declare -A slow=() ran=()
is_slow() { [[ -n "${slow[$1]:-}" ]] && (( ${ran[$1]:-0} >= slow_rounds )); }
mark() {  # $1 = contender, $2 = wall or "", $3 = aborted (an aborted contender never runs again)
    ran[$1]=$(( ${ran[$1]:-0} + 1 ))
    if [[ -n "$3" ]]; then slow[$1]=1; ran[$1]=$rounds
    elif [[ -n "$2" ]] && (( $(echo "$2 > $slow_s" | bc) )); then slow[$1]=1; fi
}
for round in $(seq 1 "$rounds"); do
    line="round $round:"
    if ! is_slow corr; then
        a=$(connector_run "corr-$round" bench_corr create "$work/state-corr"); check_rows "$work/state-corr" corr "$a"
        w=$(awk -v n="corr-$round" '$1 == n {print $2}' "$work/runs"); mark corr "$w" "$a"; line+=" corr ${w}s${a:+ ($a)}"
    fi
    if ! is_slow unc; then
        a=$(connector_run "unc-$round" bench_unc create "$work/state-unc"); check_rows "$work/state-unc" unc "$a"
        w=$(awk -v n="unc-$round" '$1 == n {print $2}' "$work/runs"); mark unc "$w" "$a"; line+=" unc ${w}s${a:+ ($a)}"
    fi
    if ! is_slow pipe; then w=$(pipe_run); mark pipe "$w" ""; line+=" pipe ${w}s"; fi
    if (( have_adbc )) && ! is_slow adbc; then w=$(adbc_run); mark adbc "$w" ""; line+=" adbc ${w}s"; fi
    if ! is_slow noidx; then
        a=$(connector_run "noidx-$round" bench_unc_noidx create "$work/state-noidx"); check_rows "$work/state-noidx" noidx "$a"
        w=$(awk -v n="noidx-$round" '$1 == n {print $2}' "$work/runs"); mark noidx "$w" "$a"; line+=" noidx ${w}s${a:+ ($a)}"
    fi
    if ! is_slow merge; then
        a=$(merge_round "$round")
        w=$(awk -v n="merge-load-$round" '$1 == n {print $2}' "$work/runs"); mark merge "$w" "$a"
        w2=$(awk -v n="merge-inc-$round" '$1 == n {print $2}' "$work/runs")
        line+=" merge: load ${w}s inc ${w2:--}s${a:+ ($a)}"
    fi
    echo "$line" >&2
done

# ---- report ----
col() {  # $1 = name prefix ("" for all), $2 = column (1-based): values of the runs that were not aborted
    awk -v p="${1:+$1-}" -v c="$2" '(p == "" || index($1, p) == 1) && $15 == "ok" && $c != "-" {print $c}' "$work/runs"
}
colall() { awk -v p="${1:+$1-}" -v c="$2" '(p == "" || index($1, p) == 1) && $c != "-" {print $c}' "$work/runs"; }
med() { local v; v=$(col "$1" "$2"); [[ -n "$v" ]] && median $v || echo "-"; }
mx() { local v; v=$(colall "$1" "$2"); [[ -n "$v" ]] && max $v || echo "-"; }
n_of() { col "$1" 2 | wc -l; }
aborts() { awk -v p="$1-" 'index($1, p) == 1 && $15 != "ok" {print $15}' "$work/runs" | sort -u | tr '\n' ' '; }
other_med() { local v; v=$(awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$work/others"); [[ -n "$v" ]] && median $v || echo "-"; }
other_n() { awk -v n="$1" '$1 == n' "$work/others" | wc -l; }
verdict() {  # $1 = value, $2 = op, $3 = target
    [[ "$1" == "-" || -z "$1" ]] && { echo "n/a"; return; }
    (( $(echo "$1 $2 $3" | bc) )) && echo "met" || echo "MISSED"
}
mib() { [[ "$1" == "-" ]] && echo "-" || printf '%.1f' "$(echo "scale=3; $1 / 1048576" | bc)"; }
kib_mib() { [[ "$1" == "-" ]] && echo "-" || printf '%.1f' "$(echo "scale=3; $1 / 1024" | bc)"; }

pipe_s=$(other_med pipe 2); pipe_bytes=$(other_med pipe 3); pipe_temp=$(other_med pipe 4)
corr_s=$(med corr 2); unc_s=$(med unc 2); noidx_s=$(med noidx 2)
adbc_s=$( (( have_adbc )) && other_med adbc 2 || echo "-")
r_unc_corr=$([[ "$unc_s" != - && "$corr_s" != - ]] && ratio "$unc_s" "$corr_s" || echo -)
r_unc_pipe=$([[ "$unc_s" != - ]] && ratio "$unc_s" "$pipe_s" || echo -)
r_noidx_pipe=$([[ "$noidx_s" != - ]] && ratio "$noidx_s" "$pipe_s" || echo -)
r_unc_adbc=$([[ "$unc_s" != - && "$adbc_s" != - ]] && ratio "$unc_s" "$adbc_s" || echo -)
noidx_temp=$(med noidx 6)
r_temp=$([[ "$noidx_temp" != - ]] && ratio "$noidx_temp" "$heap_bytes" || echo -)
noidx_blocks=$(med noidx 7); [[ "$noidx_blocks" == - ]] && noidx_blocks=$(med noidx 9)
r_blocks=$([[ "$noidx_blocks" != - ]] && ratio "$noidx_blocks" "$heap_blocks" || echo -)
load_rps=$(med merge-load 12); inc_rps=$(med merge-inc 12); inc_wall=$(med merge-inc 2); inc_merged=$(med merge-inc 14)
corr_rps=$(med corr 12)
r_merge=$([[ "$inc_rps" != - && "$load_rps" != - ]] && ratio "$inc_rps" "$load_rps" || echo -)
r_merge_corr=$([[ "$inc_rps" != - && "$corr_rps" != - ]] && ratio "$inc_rps" "$corr_rps" || echo -)
inc_wall_rps=$([[ "$inc_wall" != - && "$inc_merged" != - ]] && echo "$inc_merged / $inc_wall" | bc || echo -)
peak_rss=$(mx "" 3); peak_wal=$(mx "" 4); kb_max=$(mx "" 5)
r_kb=$([[ "$kb_max" != - ]] && ratio "$kb_max" "$pipe_bytes" || echo -)

{
printf '\n## any-order extract: %s rows, commit %s%s, %s UTC\n' "$rows" "$commit" "${dirty:+ $dirty}" "$(date -u '+%Y-%m-%d %H:%M')"
cat "$work/corr.stats" "$work/unc.stats"
printf 'heap of bench_unc: %s MiB (%s blocks); rounds asked: %s; a contender over %s s in its first round ran %s round(s)\n' \
    "$(mib "$heap_bytes")" "$heap_blocks" "$rounds" "$slow_s" "$slow_rounds"
printf '\n| case | median | runs | ratio | target | |\n|---|---|---|---|---|---|\n'
printf '| connector, index, correlated (bench_corr) | %s s | %s | | | |\n' "$corr_s" "$(n_of corr)"
printf '| connector, index, uncorrelated (bench_unc) | %s s | %s | %s x correlated | <= 1.3 | %s |\n' "$unc_s" "$(n_of unc)" "$r_unc_corr" "$(verdict "$r_unc_corr" '<=' 1.3)"
printf '| ordered pipe, uncorrelated | %s s | %s | %s x pipe (connector, index) | <= 1.0 | %s |\n' "$pipe_s" "$(other_n pipe)" "$r_unc_pipe" "$(verdict "$r_unc_pipe" '<=' 1.0)"
if (( have_adbc )); then printf '| ADBC pg -> sqlite, uncorrelated (ordered) | %s s | %s | connector, index = %s x ADBC | | |\n' "$adbc_s" "$(other_n adbc)" "$r_unc_adbc"
else printf '| ADBC | not installed | | | | |\n'; fi
printf '| connector, no index, uncorrelated (bench_unc_noidx) | %s s | %s | %s x pipe | <= 1.0 | %s |\n' "$noidx_s" "$(n_of noidx)" "$r_noidx_pipe" "$(verdict "$r_noidx_pipe" '<=' 1.0)"
printf '| no index: server temp bytes | %s MiB | | %s x heap | <= 0.1 | %s |\n' "$(mib "$noidx_temp")" "$r_temp" "$(verdict "$r_temp" '<=' 0.1)"
printf '| no index: heap blocks read | %s | | %s x table | <= 3 | %s |\n' "$noidx_blocks" "$r_blocks" "$(verdict "$r_blocks" '<=' 3)"
printf '| no index: first batch landed after | %s s | | | <= 2 s | %s |\n' "$(med noidx 10)" "$(verdict "$(med noidx 10)" '<=' 2)"
printf '| merge: first load (mode append), uncorrelated | %s s, %s rows/s | %s | | | |\n' "$(med merge-load 2)" "$load_rps" "$(n_of merge-load)"
printf '| merge: incremental run, %s rows changed | %s s wall, %s rows/s (summary), %s merged | %s | %s x first load | >= 0.333 | %s |\n' \
    "$merge_rows" "$inc_wall" "$inc_rps" "$inc_merged" "$(n_of merge-inc)" "$r_merge" "$(verdict "$r_merge" '>=' 0.333)"
printf '| merge rows/s against the correlated first load (%s rows/s) | | | %s x | >= 0.333 | %s |\n' "$corr_rps" "$r_merge_corr" "$(verdict "$r_merge_corr" '>=' 0.333)"
printf '| connector peak RSS, every run | %s MiB | | | <= 32 MiB | %s |\n' "$(kib_mib "$peak_rss")" "$(verdict "$peak_rss" '<=' 32768)"
printf '| KB peak WAL, every run | %s MiB | | | <= 256 MiB | %s |\n' "$(mib "$peak_wal")" "$(verdict "$peak_wal" '<=' 268435456)"
printf '| KB file, largest, against the pipe'"'"'s SQLite file (%s MiB) | %s MiB | | %s x | <= 1.5 | %s |\n' "$(mib "$pipe_bytes")" "$(mib "$kb_max")" "$r_kb" "$(verdict "$r_kb" '<=' 1.5)"
printf '\nper contender (medians; peak and largest over its runs; flatness = last tenth of batch gaps / first tenth; aborted runs kept out of the medians):\n'
printf '%-11s %8s %5s %9s %10s %9s %10s %11s %11s %8s %9s %10s %s\n' contender wall_s runs rss_MiB peak_wal_MiB kb_MiB temp_MiB heap_blocks statio_blk first_s flatness rows_per_s aborted
for c in corr unc noidx merge-load merge-inc; do
    [[ -n "$(colall "$c" 1)" ]] || continue
    rss=$(mx "$c" 3)
    printf '%-11s %8s %5s %9s %10s %9s %10s %11s %11s %8s %9s %10s %s\n' "$c" "$(med "$c" 2)" "$(n_of "$c")" \
        "$(kib_mib "$rss")" "$(mib "$(mx "$c" 4)")" "$(mib "$(mx "$c" 5)")" "$(mib "$(med "$c" 6)")" \
        "$(med "$c" 7)/$(med "$c" 8)" "$(med "$c" 9)" "$(med "$c" 10)" "$(med "$c" 11)" "$(med "$c" 12)" "$(aborts "$c")"
done
printf 'pipe: %s s, SQLite file %s MiB, server temp %s MiB' "$pipe_s" "$(mib "$pipe_bytes")" "$(mib "$pipe_temp")"
(( have_adbc )) && printf '; ADBC: %s s, SQLite file %s MiB' "$adbc_s" "$(mib "$(other_med adbc 3)")"
printf '\nper-batch flatness (target at 10M rows: <= 1.2): corr %s, unc %s, noidx %s, merge first load %s\n' \
    "$(med corr 11)" "$(med unc 11)" "$(med noidx 11)" "$(med merge-load 11)"
printf '\nevery run: name wall_s rss_KiB peak_wal_B kb_B temp_B heap_blocks table_blocks statio_blocks first_batch_s flatness rows_per_sec rows merged aborted\n'
cat "$work/runs"
for f in "$work"/*.summary; do printf '%s: %s\n' "$(basename "$f" .summary)" "$(cat "$f")"; done
} | tee "$work/report"
mkdir -p bench/out
cp "$work/report" "bench/out/any-order-$rows-$(date -u +%Y%m%dT%H%M%S).txt"
