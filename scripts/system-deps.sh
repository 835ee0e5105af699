#!/usr/bin/env bash
# System packages (Debian/Ubuntu names) the app and its tests need.
#   system-deps.sh qt       Qt's xcb/offscreen libraries (make run, make test)
#   system-deps.sh browser  Chromium for the browser security tests (make test)
#   system-deps.sh redis    redis-server for the shared-cache tests (make test)
#   system-deps.sh package  binutils: PyInstaller reads libraries with objdump (make test, package)
#   system-deps.sh screens  Xvfb, a window manager, a tray and tools (make screenshots)
#   system-deps.sh bench    wrk, the load generator (make bench)
# As root it installs what is missing; otherwise it prints the command to run.
set -euo pipefail
[ "$(uname -s)" = Linux ] || exit 0
command -v dpkg-query >/dev/null || exit 0
case "${1:-qt}" in
  qt) packages=(libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
        libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
        libxkbcommon0 libegl1 libgl1 libfontconfig1 libdbus-1-3) ;;
  browser) packages=(chromium) ;;
  package) packages=(binutils) ;;
  redis) packages=(redis-server) ;;
  screens) packages=(xvfb openbox trayer xdotool imagemagick) ;;
  bench) packages=(wrk) ;;
  *) echo "usage: $0 qt|browser|package|redis|screens|bench" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing system packages: sudo apt-get install ${missing[*]}" >&2
fi
