#!/usr/bin/env bash
# Builds the Debian package and tries it on this machine as an operator would: dpkg -i, the files,
# the service user, the unit (systemd-analyze verify), an enrollment with the development plane and
# `timbal-connector check` against a throwaway Postgres, then dpkg -r (state kept) and dpkg -P
# (state and user gone). Run as root. Prints "package: N passed, 0 failed" or stops at the first
# failed check.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "test-package.sh: run as root (it installs the package)" >&2; exit 1; }

passed=0
check() {  # check "what" command...
    local what=$1; shift
    if "$@" >/tmp/timbal-package-check.out 2>&1; then
        passed=$((passed + 1)); echo "ok    $what"
    else
        echo "FAIL  $what"; cat /tmp/timbal-package-check.out; exit 1
    fi
}

deb=$(scripts/package-deb.sh | tail -n 1)
echo "==> $deb ($(du -h "$deb" | cut -f1))"
work=$(mktemp -d /tmp/timbal-package.XXXXXX)
chmod 755 "$work"
plane_pid=""
cleanup() {
    [[ -n "$plane_pid" ]] && kill "$plane_pid" 2>/dev/null || true
    scripts/pg-throwaway.sh stop "$work/pg" 2>/dev/null || true
    dpkg -P timbal-connector >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
dpkg -P timbal-connector >/dev/null 2>&1 || true

check "dpkg -i installs it" dpkg -i "$deb"
check "the binary runs without Swift installed beside it" sh -c '/usr/bin/timbal-connector --version | grep -q "^timbal-connector "'
check "no Swift runtime library is needed" sh -c '! ldd /usr/bin/timbal-connector | grep -q libswift'
check "the service user exists" getent passwd timbal-connector
check "config files are 0640 root:timbal-connector" sh -c \
    '[ "$(stat -c %a:%U:%G /etc/timbal-connector/config.json)" = 640:root:timbal-connector ] && [ "$(stat -c %a:%U:%G /etc/timbal-connector/connections.json)" = 640:root:timbal-connector ]'
check "the state dir is 0700 and the service user's" sh -c '[ "$(stat -c %a:%U /var/lib/timbal-connector)" = 700:timbal-connector ]'
check "the unit passes systemd-analyze verify" sh -c \
    'out=$(systemd-analyze verify /lib/systemd/system/timbal-connector.service 2>&1); echo "$out"; ! echo "$out" | grep -q "timbal-connector.service:"'

# An operator's first steps: a plane (the development one), an enrollment, a connection, check.
dsn=$(scripts/pg-throwaway.sh start "$work/pg")
port=$(scripts/free-port.sh 18600)
devplane=$(swift build --show-bin-path)/timbal-devplane
[[ -x "$devplane" ]] || swift build --product timbal-devplane >/dev/null
"$devplane" --port "$port" --data-dir "$work/plane" --admin-token secret --kbs 1 >"$work/plane.log" 2>&1 &
plane_pid=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
token=$(curl -sf -X POST -H 'Authorization: Bearer secret' "http://127.0.0.1:$port/orgs/org_dev/connectors/enrollment-tokens" -d '{}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
check "enroll as the service user" runuser -u timbal-connector -- /usr/bin/timbal-connector enroll \
    --url "http://127.0.0.1:$port" --token "$token" --state-dir /var/lib/timbal-connector --log-level warning
cat > /etc/timbal-connector/config.json <<JSON
{"control_plane_url": "http://127.0.0.1:$port", "state_dir": "/var/lib/timbal-connector", "metrics_address": null}
JSON
cat > /etc/timbal-connector/connections.json <<JSON
{"main": {"kind": "postgres", "dsn": "$dsn"}}
JSON
check "timbal-connector check passes" runuser -u timbal-connector -- /usr/bin/timbal-connector check --config /etc/timbal-connector/config.json

check "dpkg -r removes the binary" sh -c 'dpkg -r timbal-connector && [ ! -e /usr/bin/timbal-connector ]'
check "and keeps the credential, state and configuration" sh -c \
    '[ -f /var/lib/timbal-connector/credential.json ] && [ -f /etc/timbal-connector/config.json ]'
check "dpkg -P deletes state, configuration and the user" sh -c \
    'dpkg -P timbal-connector && [ ! -e /var/lib/timbal-connector ] && [ ! -e /etc/timbal-connector ] && ! getent passwd timbal-connector'
echo "package: $passed passed, 0 failed"
