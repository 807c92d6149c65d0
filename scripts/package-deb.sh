#!/usr/bin/env bash
# Builds the Debian package: dist/timbal-connector_<version>_<arch>.deb with the release binary
# (Swift's runtime linked in statically, so the host needs no Swift), the systemd unit, example
# configs as conffiles in /etc/timbal-connector, and maintainer scripts that create the service
# user (postinst), keep state on remove and delete it on purge (postrm).
# Usage: scripts/package-deb.sh   (needs dpkg-deb; builds in .build-deb/)
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(grep -o 'version = "[^"]*"' Sources/ConnectorDaemon/Operations/SystemInfo.swift | head -n1 | cut -d'"' -f2)
arch=$(dpkg --print-architecture)
echo "==> building timbal-connector $version (release, static Swift runtime)"
swift build -c release --product timbal-connector --static-swift-stdlib --scratch-path .build-deb 2>&1 \
    | grep -Ev "^warning: 'swift-distributed-tracing'|CMakeLists.txt$" || true
bin=$(swift build -c release --static-swift-stdlib --scratch-path .build-deb --show-bin-path)/timbal-connector
[[ -x "$bin" ]] || { echo "package-deb.sh: the build did not produce $bin" >&2; exit 1; }

root=$(mktemp -d /tmp/timbal-deb.XXXXXX)
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$bin" "$root/usr/bin/timbal-connector"
strip "$root/usr/bin/timbal-connector" 2>/dev/null || true
sed 's|/usr/local/bin/timbal-connector|/usr/bin/timbal-connector|' systemd/timbal-connector.service \
    | install -D -m 0644 /dev/stdin "$root/lib/systemd/system/timbal-connector.service"
install -D -m 0640 config/config.example.json "$root/etc/timbal-connector/config.json"
install -D -m 0640 config/connections.example.json "$root/etc/timbal-connector/connections.json"
install -d "$root/usr/share/doc/timbal-connector"
cp README.md docs/*.md "$root/usr/share/doc/timbal-connector/"

# The shared libraries the binary links directly (libpq, SQLite, the C and C++ runtimes), as the
# Debian packages that ship them; their own dependencies come with them.
depends=$(ldd "$root/usr/bin/timbal-connector" | awk '/=> \// {print $3}' \
    | grep -E '/(libpq|libsqlite3|libstdc\+\+|libgcc_s|libc|libm|libz)\.so' | while read -r lib; do
    dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
done | cut -d: -f1 | sort -u | grep -v '^$' | paste -sd, | sed 's/,/, /g')

install -d "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: timbal-connector
Version: $version
Architecture: $arch
Maintainer: Timbal <support@timbal.ai>
Depends: $depends, adduser
Section: database
Priority: optional
Installed-Size: $(du -sk "$root" | cut -f1)
Description: Feeds Timbal knowledge bases from your databases
 A daemon that enrolls with the Timbal control plane, dials out, and runs the extract jobs it
 dispatches: it reads Postgres tables in cursor order, gently, and lands each batch with its
 checkpoint in a local SQLite knowledge base or the platform's hosted one, exactly once.
CONTROL
printf '/etc/timbal-connector/config.json\n/etc/timbal-connector/connections.json\n' > "$root/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"

mkdir -p dist
deb="dist/timbal-connector_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
