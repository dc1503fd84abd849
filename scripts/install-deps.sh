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
  # Federation interop tests (tests/protocol/federation_helpers.py) start their own Prosody and
  # ejabberd; lua-unbound lets Prosody use the tests' DNS server.
  prosody lua-unbound ejabberd
  # starling-bench --plot (bench/README.md)
  gnuplot-nox
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
# Installing prosody/ejabberd must not start their system services (they would listen on
# 5222/5269 and keep running): a temporary policy-rc.d forbids starting them, unless one exists.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=1
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
[[ $own_policy == 1 ]] && $SUDO rm -f "$policy"
[[ ${rc:-0} == 0 ]] || exit "$rc"
for svc in prosody ejabberd; do
  if [[ -d /run/systemd/system ]]; then
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  else
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
    $SUDO update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done
