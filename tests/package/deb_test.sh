#!/bin/bash
# Builds the .deb from this build tree (CPack), installs it on this machine
# with apt, checks what it installed (binaries, plugins found from
# /usr/lib/exed/plugins, user, conffile, units, SDK package), then purges it
# — also when a check fails. Skipped (77) unless root, and when an exed
# package is already installed (never touch a real installation).
# usage: deb_test.sh BUILD_DIR
set -euo pipefail
build=$1
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to install a package"; exit 77; }
if dpkg-query -W -f '${Status}' exed 2>/dev/null | grep -q installed; then
    echo "SKIP: an exed package is already installed here"; exit 77
fi
work=$(mktemp -d)
installed=0
cleanup() {
    [ "$installed" = 1 ] && dpkg --purge exed >/dev/null 2>&1
    [ -n "${exed_pid:-}" ] && kill "$exed_pid" 2>/dev/null && wait "$exed_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/pkg" -D CPACK_OUTPUT_FILE_PREFIX="$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/out/exed_*_amd64.deb)
# A purge keeps the exed user (Debian policy), so an earlier run of this test
# left it: remove that leftover (no package is installed, see above) so that
# the postinst's first-install path, adduser included, runs every time.
if getent passwd exed | grep -q ":exed remote-execution daemon:/var/lib/exed:"; then
    deluser --system exed >/dev/null 2>&1 || true
    getent group exed >/dev/null && { delgroup --system exed >/dev/null 2>&1 || true; }
fi
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" >"$work/apt.log" 2>&1 \
    || { cat "$work/apt.log"; fail "apt-get install"; }

# The maintainer scripts install quietly: no adduser or dpkg warning.
if grep -i "warning" "$work/apt.log" | grep -v "apt does not have a stable CLI"; then
    fail "warnings while installing (above)"
fi
/usr/bin/exed -v | grep -q "^exed " || fail "exed -v"
/usr/bin/exectl --help | grep -q "usage: exectl" || fail "exectl --help"
/usr/bin/exectl execute --help | grep -q "ARGV" || fail "exectl execute --help"
[ -f /usr/share/bash-completion/completions/exectl ] || fail "bash completion"
getent passwd exed | grep -q ":/var/lib/exed:" || fail "system user exed with home /var/lib/exed"
[ "$(stat -c %U:%G /var/lib/exed)" = exed:exed ] || fail "/var/lib/exed owned by exed"
dpkg-query -W -f '${Conffiles}' exed | grep -q "/etc/exed/exe.conf" || fail "exe.conf is a conffile"
[ "$(stat -c %G /etc/exed/exe.conf)" = exed ] || fail "exe.conf readable by group exed"
for unit in exed.service exed-worker@.service; do
    [ -f /lib/systemd/system/$unit ] || fail "$unit"
    grep -q "^ExecStart=/usr/bin/exed" /lib/systemd/system/$unit || fail "$unit ExecStart"
    grep -q "^NoNewPrivileges=yes" /lib/systemd/system/$unit || fail "$unit hardening"
done
systemd-analyze verify /lib/systemd/system/exed.service >"$work/verify.log" 2>&1 \
    || { cat "$work/verify.log"; fail "systemd-analyze verify exed.service"; }

# The installed exed, with the packaged config's plugin defaults, as the
# exed user: finds its plugins in /usr/lib/exed/plugins.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
install -d -o exed -g exed "$work/state"
sed -e "s#^listen_port = .*#listen_port = $port#" -e "s#^run_dir = .*#run_dir = $work/state/run#" \
    /etc/exed/exe.conf >"$work/exe.conf"
chmod 644 "$work/exe.conf"
chmod 755 "$work"
(cd "$work/state" && exec runuser -u exed -- env HOME=/var/lib/exed /usr/bin/exed -c "$work/exe.conf") \
    >"$work/exed.log" 2>&1 &
exed_pid=$!
plugins=
for _ in $(seq 100); do
    plugins=$(curl -sf "http://127.0.0.1:$port/plugins" || true)
    [ -n "$plugins" ] && break
    sleep 0.2
done
for p in /usr/lib/exed/plugins/exed_ansible.so /usr/lib/exed/plugins/exed_common.so; do  # salt: refused without [salt] config
    echo "$plugins" | grep -q "\"$p\"" || { cat "$work/exed.log"; fail "installed exed did not load $p: $plugins"; }
done
/usr/bin/exectl --url "http://127.0.0.1:$port" --json jobs | grep -q '^\[' || fail "exectl jobs against it"
kill "$exed_pid"; wait "$exed_pid" || true; exed_pid=

# The SDK's CMake package, as an out-of-tree plugin finds it.
mkdir -p "$work/sdk"
printf 'cmake_minimum_required(VERSION 3.25)\nproject(p CXX)\nfind_package(exed-sdk 1.0 REQUIRED)\n' >"$work/sdk/CMakeLists.txt"
cmake -S "$work/sdk" -B "$work/sdk/b" >"$work/sdk.log" 2>&1 || { cat "$work/sdk.log"; fail "find_package(exed-sdk)"; }

dpkg --purge exed >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge"; }
installed=0
for gone in /usr/bin/exed /usr/bin/exectl /usr/lib/exed /etc/exed /var/lib/exed /lib/systemd/system/exed.service; do
    [ ! -e "$gone" ] || fail "$gone left after purge"
done
getent passwd exed >/dev/null || fail "the exed user is kept after purge (Debian policy)"
echo "1 passed, 0 failed"
