#!/usr/bin/env bash
# Prepares this host for the emulated AKS (demo, e2e tests, benches), installing only what is missing.
# Every runner uses the host's file system as the guest's root, so every tool the guest uses is
# installed here, on the host. Always: the guest's tools, User-Mode Linux and its XSAVE fix (the uml
# runner; cheap). Only with `--runner qemu` (or AKS_IPVLAN_RUNNER=qemu): QEMU, Debian's
# linux-image-amd64 kernel unpacked under .testbed/qemu (the host's /boot and /lib/modules stay as
# they are) and the qemu runner's initramfs. About 2 minutes and 500 MB, so not for every CI run.
set -euo pipefail

runner="${AKS_IPVLAN_RUNNER:-auto}"
while [ $# -gt 0 ]; do
  case "$1" in
    --runner) runner="${2:?--runner needs auto, native, uml or qemu}"; shift 2 ;;
    *) echo "setup-host: unknown argument $1 (usage: setup-host.sh [--runner auto|native|uml|qemu])" >&2; exit 2 ;;
  esac
done
case "$runner" in
  auto | native | uml | qemu) ;;
  *) echo "setup-host: --runner $runner: use auto, native, uml or qemu" >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "$0")/.." && pwd)"
# A file of the program's: under src/ in a clone, under dist/ in the installed package (npm run build
# copies every such file there).
program_file() { if [ -f "$repo/src/$1" ]; then echo "$repo/src/$1"; else echo "$repo/dist/$1"; fi; }

install_missing() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "setup-host: missing Debian packages: ${missing[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  echo "setup-host: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_missing user-mode-linux containernetworking-plugins iptables kmod iproute2 busybox dnsmasq-base \
  iperf3 socat tcpdump procps openssl util-linux gcc libc6-dev
# The agent image's registry-free build (scripts/image/build.ts, run by the tests): its Debian base.
if [ -f "$repo/scripts/image/build.ts" ]; then install_missing debootstrap; fi
# The uml runner bind-mounts the UML kernel's modules here; the directory must exist on the shared root.
if [ ! -d /lib/modules ]; then mkdir -p /lib/modules; fi
# UML on hosts with a larger XSAVE area (AVX-512, AMX) needs the ptrace fix
# (src/testbed/runners/xsave-fix.c), preloaded into linux.uml only. Rebuilt when the source is newer.
fix_src="$(program_file testbed/runners/xsave-fix.c)"
fix_lib="$repo/.testbed/lib/uml-xsave-fix.so"
if [ ! -f "$fix_lib" ] || [ "$fix_src" -nt "$fix_lib" ]; then
  mkdir -p "$repo/.testbed/lib"
  gcc -O2 -shared -fPIC -Wall -Wextra -Werror -o "$fix_lib.tmp" "$fix_src"
  mv -f "$fix_lib.tmp" "$fix_lib"
fi

[ "$runner" = qemu ] || exit 0

# The qemu runner: src/testbed/runners/qemu.ts reads what is made here.
install_missing qemu-system-x86 cpio
qemu_dir="$repo/.testbed/qemu"
kernel_dir="$qemu_dir/kernel"
if ! compgen -G "$kernel_dir/boot/vmlinuz-*" >/dev/null; then
  package="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')"
  echo "setup-host: unpacking $package into $kernel_dir" >&2
  rm -rf "$qemu_dir" && mkdir -p "$qemu_dir/download"
  (cd "$qemu_dir/download" && apt-get download -qq -o APT::Sandbox::User=root "$package")
  dpkg-deb -x "$qemu_dir"/download/*.deb "$kernel_dir.tmp"
  rm -rf "$qemu_dir/download"
  release="$(ls "$kernel_dir.tmp/lib/modules")"
  depmod -b "$kernel_dir.tmp" "$release"
  mv "$kernel_dir.tmp" "$kernel_dir"
fi
init_src="$(program_file testbed/runners/qemu-init.sh)"
initramfs="$qemu_dir/initramfs.cpio"
if [ ! -f "$initramfs" ] || [ "$init_src" -nt "$initramfs" ]; then
  release="$(ls "$kernel_dir/lib/modules")"
  staging="$(mktemp -d)"
  trap 'rm -rf "$staging"' EXIT
  mkdir -p "$staging/bin" "$staging/modules"
  cp "$init_src" "$staging/init"
  chmod 755 "$staging/init"
  cp /bin/busybox "$staging/bin/busybox"
  # The host's busybox is linked dynamically: its loader and libraries come along.
  for library in $(ldd /bin/busybox | grep -o '/[^ ]*'); do
    mkdir -p "$staging$(dirname "$library")"
    cp -L "$library" "$staging$library"
  done
  # virtio-pci and 9p over virtio, with what they need first (modprobe reads the unpacked kernel's
  # modules.dep and prints the insmod order).
  for module in virtio_pci 9pnet_virtio 9p; do
    modprobe -d "$kernel_dir" -S "$release" --show-depends "$module" | awk '$1 == "insmod" { print $2 }'
  done | awk '!seen[$0]++' | while read -r path; do
    cp "$path" "$staging/modules/"
    basename "$path" >>"$staging/modules/order"
  done
  (cd "$staging" && find . | cpio -o -H newc --quiet) >"$initramfs.tmp"
  mv -f "$initramfs.tmp" "$initramfs"
fi
