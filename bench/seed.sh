#!/usr/bin/env bash
# Seeds the benchmarks' mixed-type table with N rows, then prints pg_stats' correlation of
# updated_at and id with the heap's order.
# Usage: bench/seed.sh DSN N [SHAPE] [TABLE]
#   SHAPE  correlated (default): updated_at rises with id and with the heap (1.25 s apart)
#          uncorrelated: updated_at distinct, random over five years, unrelated to id and to the
#          heap's order (rows are still inserted in id order); the other columns as correlated
#   TABLE  default bench_events
# Either shape gets the primary key on id and an index on (updated_at, id).
set -euo pipefail
dsn=${1:?usage: bench/seed.sh DSN N [correlated|uncorrelated] [TABLE]}
rows=${2:?missing N}
shape=${3:-correlated}
table=${4:-bench_events}

case "$shape" in
correlated)
    # updated_at = 2026-01-01 + id * 1.25 s
    source="SELECT g, '2026-01-01'::timestamptz + g * interval '1.25 second' AS updated_at
            FROM generate_series(1, $rows) g"
    order=""
    ;;
uncorrelated)
    # A random permutation r of 1..N gives each id a slot of five years / N; the value is drawn
    # at random within its slot (to the microsecond), so values are distinct, spread over the
    # years, and in no relation to id or to the heap (written in id order).
    step_us=$(( 5 * 36525 * 864000000 / rows ))   # five years of microseconds / N
    (( step_us >= 1 )) || { echo "seed.sh: too many rows for distinct microseconds" >&2; exit 2; }
    source="SELECT g, '2020-01-01'::timestamptz
                      + ((r - 1) * $step_us + floor(random() * $step_us)::bigint) * interval '1 microsecond' AS updated_at
            FROM (SELECT g, row_number() OVER (ORDER BY random()) AS r FROM generate_series(1, $rows) g) p"
    order="ORDER BY s.g"
    ;;
*)
    echo "seed.sh: SHAPE must be correlated or uncorrelated, not $shape" >&2; exit 2;;
esac

psql -q -X -v ON_ERROR_STOP=1 "$dsn" <<SQL
SET client_min_messages = warning;
SET work_mem = '256MB';
DROP TABLE IF EXISTS $table;
CREATE TABLE $table (
    id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, amount numeric(14,4), title text,
    flag boolean, score double precision, payload jsonb, day date, ref uuid);
INSERT INTO $table
SELECT s.g, s.updated_at, round((random() * 100000)::numeric, 4),
       'event title number ' || s.g, s.g % 3 = 0, random() * 1000, jsonb_build_object('g', s.g, 'k', 'v'),
       '2026-01-01'::date + (s.g % 365), md5(s.g::text)::uuid
FROM ($source) s
$order;
CREATE INDEX ON $table (updated_at, id);
VACUUM ANALYZE $table;
SQL

psql -X -A -t -F ' ' "$dsn" -c "
    SELECT '$table ($shape, $rows rows): pg_stats correlation '
           || string_agg(attname || '=' || round(correlation::numeric, 4), ' ' ORDER BY attname DESC)
    FROM pg_stats WHERE schemaname = 'public' AND tablename = '$table' AND attname IN ('updated_at', 'id')"
