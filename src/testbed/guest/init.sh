#!/bin/sh
# PID 1 of the testbed's guest, whichever runner started it (src/testbed/runners): a User-Mode Linux or
# QEMU kernel, or private namespaces on the host's kernel (native). The runner passes REPO, NODE, ENTRY, JOB,
# TESTBED_RUNNER and TESTBED_MODULES (the module tree to mount on /lib/modules; empty: the kernel's
# own) as environment. Mounts what the guest needs on tmpfs (nothing is written to the host's /run or
# /tmp), loads the modules of the datapath, runs the Node entry with the job, and powers off (native:
# exits, which ends its PID namespace).
# iptables-legacy under the plain names first on PATH: the kernel has no nftables NAT, and the CNI
# plugins (portmap) call plain `iptables`.
export PATH="$REPO/node_modules/.bin:/run/legacy-bin:/usr/sbin:/usr/bin:/sbin:/bin"
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
# A checkout under /tmp (CI may clone there) would vanish under the guest's own /tmp: carry it across,
# and the Node that runs the host side (a clone's node_modules under /tmp running an installed package).
mkdir /run/repo /run/node
mount --bind "$REPO" /run/repo
node_dir="$(dirname "$NODE")"
mount --bind "$node_dir" /run/node
mount -t tmpfs tmpfs /tmp
case "$REPO" in
  /tmp/*) mkdir -p "$REPO" && mount --move /run/repo "$REPO" ;;
  *) umount /run/repo ;;
esac
case "$node_dir" in
  /tmp/*) [ -x "$NODE" ] || { mkdir -p "$node_dir" && mount --move /run/node "$node_dir"; } ;;
esac
mountpoint -q /run/node && umount /run/node
if [ -n "$TESTBED_MODULES" ]; then mount --bind "$TESTBED_MODULES" /lib/modules; fi
mkdir /run/legacy-bin
for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -s /usr/sbin/xtables-legacy-multi "/run/legacy-bin/$tool"
done
for module in ipvlan veth dummy bridge nf_conntrack nf_nat iptable_nat iptable_filter iptable_mangle \
  xt_MASQUERADE xt_comment xt_mark xt_addrtype xt_conntrack xt_multiport xt_tcpudp ipt_REJECT \
  xt_statistic; do
  modprobe "$module" 2>/dev/null || echo "testbed: modprobe $module failed"
done
ip link set lo up
# The host times the boot up to this line and reads the runner and kernel from it.
echo "testbed: kernel up: $TESTBED_RUNNER $(uname -r)"
"$NODE" "$ENTRY" "$JOB"
code=$?
echo "testbed: guest finished with exit code $code"
if [ "$TESTBED_RUNNER" = native ]; then exit "$code"; fi
# -d: no shutdown record in wtmp, which is the host's /var/log/wtmp through the shared root.
poweroff -f -d
