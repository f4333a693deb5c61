#!/usr/bin/env bash
# Installs the Debian 12 packages berth needs to build and test, when any are missing.
# As root it runs apt-get; otherwise it prints the one command to run.
set -euo pipefail
build=(cmake ninja-build g++ pkg-config libboost1.74-dev libssl-dev libsqlite3-dev libsqlitecpp-dev
       nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libexpected-dev libre2-dev libarchive-dev libyaml-cpp-dev
       libgtest-dev libgmock-dev libbenchmark-dev libjemalloc-dev)
test=(skopeo podman buildah uidmap zstd python3 python3-requests curl debootstrap)
want=("${build[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${test[@]}"); fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3-requests is satisfied by a pip-installed requests as well.
if printf '%s\n' "${missing[@]}" | grep -qx python3-requests && python3 -c 'import requests' 2>/dev/null; then
  missing=("${missing[@]/python3-requests}")
fi
read -r -a missing <<<"${missing[*]}"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: missing packages; run:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
