# Sourced by the benchmarks: a scratch directory `$work` (removed on exit) and a Postgres to read
# from: $BENCH_PG_DSN when set, else a throwaway cluster in `$work/pg`, stopped on exit.
# Usage: bench_workdir NAME
bench_workdir() {
    work=$(mktemp -d "/tmp/timbal-bench-$1.XXXXXX")
    chmod 755 "$work"
    if [[ -z "${BENCH_PG_DSN:-}" ]]; then
        BENCH_PG_DSN=$(scripts/pg-throwaway.sh start "$work/pg")
        trap 'scripts/pg-throwaway.sh stop "$work/pg"; rm -rf "$work"' EXIT
    else
        trap 'rm -rf "$work"' EXIT
    fi
}
