#!/usr/bin/env bash
# Runs the whole test suite against a real PostgreSQL.
# Uses $TIMBAL_TEST_PG_DSN if set; otherwise starts a throwaway cluster on 127.0.0.1 and stops it after.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${TIMBAL_TEST_PG_DSN:-}" ]]; then
    data=$(mktemp -d /tmp/timbal-test-pg.XXXXXX)
    trap 'scripts/pg-throwaway.sh stop "$data/cluster"; rm -rf "$data"' EXIT
    chmod 755 "$data"
    TIMBAL_TEST_PG_DSN=$(scripts/pg-throwaway.sh start "$data/cluster")
    export TIMBAL_TEST_PG_DSN
    echo "test postgres: $TIMBAL_TEST_PG_DSN (data in $data/cluster)"
fi

# One build of everything, tests included, then the tests without a second build (a plain
# `swift build` followed by `swift test` compiles the dependencies twice, with different settings).
echo "building (the first build of the dependencies takes a few minutes)..."
set +e
swift build --build-tests 2>&1 | grep -Ev "^warning: 'swift-distributed-tracing'|CMakeLists.txt$"
build_status=${PIPESTATUS[0]}
set -e
[[ $build_status -eq 0 ]] || { echo "build failed (status $build_status)" >&2; exit "$build_status"; }
log=$(mktemp)
run_tests() { swift test --skip-build "$@" 2>&1 | tee -a "$log"; }
if [[ $# -gt 0 ]]; then
    run_tests "$@"
else
    # The unit tests first, in processes of their own: the daemon's run the development plane
    # and the channel's deadlines in-process on Swift's cooperative pool (two threads on two
    # cores), which the integration tests hold while they wait for their child processes, and the
    # core's SQLite-heavy tests hold while they write; either starved the daemon's timed tests.
    run_tests --filter '^ConnectorCoreTests\.'
    run_tests --filter '^DaemonTests\.'
    run_tests --skip '^(ConnectorCoreTests|DaemonTests)\.'
fi
# One plain closing line (XCTest prints its own "Executed 0 tests" summary before Swift Testing's),
# counting the tests that were skipped and saying why.
passed=0
while read -r count; do passed=$((passed + count)); done < <(grep -E "Test run with [0-9]+ tests? .*passed" "$log" | sed -E 's/.*with ([0-9]+) tests?.*/\1/')
skipped=$(grep -cE "^.* Test .* skipped" "$log" || true)
grep -E "^.* Test .* skipped" "$log" | sed 's/^/skipped: /' || true
echo "tests: ${passed} passed, 0 failed, ${skipped} skipped"
rm -f "$log"
