#!/usr/bin/env bash
# Seeds bench_events (the benchmarks' mixed-type table) with N rows. Usage: bench/seed.sh DSN N
set -euo pipefail
psql -q -X "$1" <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_events;
CREATE TABLE bench_events (
    id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, amount numeric(14,4), title text,
    flag boolean, score double precision, payload jsonb, day date, ref uuid);
INSERT INTO bench_events
SELECT g, '2026-01-01'::timestamptz + g * interval '1.25 second', round((random() * 100000)::numeric, 4),
       'event title number ' || g, g % 3 = 0, random() * 1000, jsonb_build_object('g', g, 'k', 'v'),
       '2026-01-01'::date + (g % 365), md5(g::text)::uuid
FROM generate_series(1, $2) g;
CREATE INDEX ON bench_events (updated_at, id);
VACUUM ANALYZE bench_events;
SQL
