#!/usr/bin/env bash
# Removes what install.sh added. Keeps /var/lib/timbal-connector (credential, state, local KBs) and
# /etc/timbal-connector unless --purge is given.
set -euo pipefail
[[ $(id -u) -eq 0 ]] || { echo "uninstall.sh: run as root" >&2; exit 1; }
prefix=${PREFIX:-/usr/local}
purge=false
[[ "${1:-}" == "--purge" ]] && purge=true

systemctl disable --now timbal-connector 2>/dev/null || true
rm -f /etc/systemd/system/timbal-connector.service
systemctl daemon-reload 2>/dev/null || true
rm -f "$prefix/bin/timbal-connector"
if $purge; then
    rm -rf /etc/timbal-connector /var/lib/timbal-connector
    userdel timbal-connector 2>/dev/null || true
    echo "removed the connector, its configuration, its state and local KBs"
else
    echo "removed the connector; kept /etc/timbal-connector and /var/lib/timbal-connector (use --purge to delete them)"
fi
