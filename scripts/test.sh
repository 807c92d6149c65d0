#!/usr/bin/env bash
# Runs the whole test suite against a real PostgreSQL.
# Uses $TIMBAL_TEST_PG_DSN if set; otherwise starts a throwaway cluster on 127.0.0.1 and stops it after.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${TIMBAL_TEST_PG_DSN:-}" ]]; then
    port=${TIMBAL_TEST_PG_PORT:-54329}
    # Skip ports something already listens on (a developer's own server, say).
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    data=$(mktemp -d /tmp/timbal-test-pg.XXXXXX)
    trap 'scripts/pg-throwaway.sh stop "$data/cluster"; rm -rf "$data"' EXIT
    chmod 755 "$data"
    TIMBAL_TEST_PG_DSN=$(scripts/pg-throwaway.sh start "$data/cluster" "$port")
    export TIMBAL_TEST_PG_DSN
    # Lets the tests restart the server mid-job (pg_ctl restart) to prove resume.
    export TIMBAL_TEST_PG_DATA="$data/cluster"
    export TIMBAL_TEST_PG_PORT=$port
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
