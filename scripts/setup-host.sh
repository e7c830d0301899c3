#!/usr/bin/env bash
# Installs the Debian packages the demo and the e2e tests need, only when one is missing.
# The emulated AKS runs on Debian's User-Mode Linux kernel with the host's file system as its root,
# so every tool the guest uses is installed here, on the host.
set -euo pipefail

packages=(user-mode-linux containernetworking-plugins iptables kmod iproute2 busybox dnsmasq-base iperf3 socat tcpdump procps openssl gcc libc6-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup-host: missing Debian packages: ${missing[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  echo "setup-host: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The guest bind-mounts the UML kernel's modules here; the directory must exist on the shared root.
if [ ! -d /lib/modules ]; then mkdir -p /lib/modules; fi
# UML on hosts with a larger XSAVE area (AVX-512, AMX) needs the ptrace shim (src/testbed/uml/xsave-fix.c),
# preloaded into linux.uml only. Rebuilt when the source is newer than the library.
repo="$(cd "$(dirname "$0")/.." && pwd)"
fix_src="$repo/src/testbed/uml/xsave-fix.c"
fix_lib="$repo/.testbed/lib/uml-xsave-fix.so"
if [ ! -f "$fix_lib" ] || [ "$fix_src" -nt "$fix_lib" ]; then
  mkdir -p "$repo/.testbed/lib"
  gcc -O2 -shared -fPIC -Wall -Wextra -Werror -o "$fix_lib.tmp" "$fix_src"
  mv -f "$fix_lib.tmp" "$fix_lib"
fi
