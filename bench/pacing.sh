#!/usr/bin/env bash
# Benchmark: pacing accuracy. Runs a job at caps of 1k, 10k and 50k rows/s for SECONDS each
# (default 20) and prints achieved rate / cap and the busiest one-second window / cap.
# Usage: bench/pacing.sh [SECONDS]. Uses $BENCH_PG_DSN or a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
work=$(mktemp -d /tmp/timbal-bench-pacing.XXXXXX)
chmod 755 "$work"
if [[ -z "${BENCH_PG_DSN:-}" ]]; then
    BENCH_PG_DSN=$(scripts/pg-throwaway.sh start "$work/pg")
    trap 'scripts/pg-throwaway.sh stop "$work/pg"; rm -rf "$work"' EXIT
fi
swift build -c release --product timbal-connector >/dev/null
# Enough rows for the fastest cap to run the whole time.
bench/seed.sh "$BENCH_PG_DSN" $(( 50000 * seconds + 100000 ))
python3 bench/pacing.py "$(swift build -c release --show-bin-path)/timbal-connector" "$BENCH_PG_DSN" "$seconds"
