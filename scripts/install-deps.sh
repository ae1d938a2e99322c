#!/usr/bin/env bash
# install-deps.sh - installs the Debian packages defpi builds and tests with (C libraries of the
# ncursesw, libcurl and libmongoc bindings, SQLite, tmux). Idempotent; needs root or sudo.
set -euo pipefail

packages=(pkg-config libncurses-dev libcurl4-openssl-dev libmongoc-dev libbson-dev libsqlite3-dev tmux curl jq)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "install-deps: installing ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v swift >/dev/null 2>&1; then
  for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin; do [ -x "$dir/swift" ] && export PATH="$dir:$PATH"; done
fi
command -v swift >/dev/null 2>&1 || { echo "install-deps: Swift 6.3 is not installed (see https://swift.org/install/linux/)" >&2; exit 1; }
