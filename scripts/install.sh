#!/usr/bin/env bash
# Installs timbal-connector as a systemd service: a release binary in /usr/local/bin, the unit,
# the service user, /etc/timbal-connector with the example configs (0640, not overwritten) and
# /var/lib/timbal-connector (created by systemd's StateDirectory=). Run as root from the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "install.sh: run as root" >&2; exit 1; }

prefix=${PREFIX:-/usr/local}
echo "==> building the release binary"
swift build -c release --product timbal-connector >/dev/null
install -D -m 0755 "$(swift build -c release --show-bin-path)/timbal-connector" "$prefix/bin/timbal-connector"

echo "==> service user timbal-connector"
id -u timbal-connector >/dev/null 2>&1 || useradd --system --home-dir /var/lib/timbal-connector --no-create-home \
    --shell /usr/sbin/nologin timbal-connector

echo "==> /etc/timbal-connector"
install -d -m 0750 -o root -g timbal-connector /etc/timbal-connector
for name in config connections; do
    target=/etc/timbal-connector/$name.json
    if [[ -e "$target" ]]; then
        echo "    keeping existing $target"
    else
        install -m 0640 -o root -g timbal-connector "config/$name.example.json" "$target"
    fi
done
install -d -m 0700 -o timbal-connector -g timbal-connector /var/lib/timbal-connector

echo "==> systemd unit"
sed "s|/usr/local/bin/timbal-connector|$prefix/bin/timbal-connector|" systemd/timbal-connector.service \
    >/etc/systemd/system/timbal-connector.service
systemctl daemon-reload 2>/dev/null || true

cat <<TEXT
Installed. Next:
  1. edit /etc/timbal-connector/config.json (control_plane_url) and connections.json (DSNs)
  2. sudo -u timbal-connector $prefix/bin/timbal-connector enroll --url URL --token TOKEN --state-dir /var/lib/timbal-connector
  3. systemctl enable --now timbal-connector && journalctl -u timbal-connector -f
TEXT
