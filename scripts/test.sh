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

swift build
log=$(mktemp)
swift test "$@" 2>&1 | tee "$log"
# One plain closing line (XCTest prints its own "Executed 0 tests" summary before Swift Testing's).
if [[ $(grep -E "Test run with [0-9]+ tests? .*passed" "$log" | tail -n 1) =~ with\ ([0-9]+)\ test ]]; then
    echo "tests: ${BASH_REMATCH[1]} passed, 0 failed"
fi
rm -f "$log"
