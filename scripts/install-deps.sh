#!/usr/bin/env bash
# Installs every Debian 12 package that building, running and testing Starling needs.
# Idempotent and quiet when everything is present; needs root (or sudo) otherwise.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git openssl
  libboost1.81-dev libssl-dev libexpat1-dev libicu-dev libidn2-dev libsqlite3-dev
  libc-ares-dev libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev
  python3 python3-pytest python3-slixmpp python3-openssl
)
if [[ "${STARLING_FUZZ_DEPS:-0}" == 1 ]]; then packages+=(clang libclang-rt-14-dev); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "Installing missing packages: ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
