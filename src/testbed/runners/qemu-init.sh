#!/bin/busybox sh
# /init of the qemu runner's initramfs (built by scripts/setup-host.sh with the host's busybox and the
# Debian kernel's virtio and 9p modules): mounts the host's root read-only over virtio-9p and the run
# directory writable at its own path, then hands PID 1 to guest/init.sh on that root. The kernel
# passes TESTBED_INIT and TESTBED_RUN_DIR from its command line as environment, with init.sh's own.
fail() {
  echo "testbed: qemu initramfs: $1"
  /bin/busybox poweroff -f
}
/bin/busybox mkdir -p /proc /root
/bin/busybox mount -t proc proc /proc
while read -r module; do
  /bin/busybox insmod "/modules/$module" || echo "testbed: insmod $module failed"
done < /modules/order
options=trans=virtio,version=9p2000.L,msize=512000
# The root never changes during a run: the page cache may keep what it read.
/bin/busybox mount -t 9p -o "ro,cache=loose,$options" hostroot /root || fail "cannot mount the host root over 9p"
/bin/busybox mount -t 9p -o "rw,$options" rundir "/root$TESTBED_RUN_DIR" || fail "cannot mount the run directory over 9p"
/bin/busybox mount -t devtmpfs devtmpfs /root/dev
/bin/busybox umount /proc
exec /bin/busybox switch_root /root /bin/sh "$TESTBED_INIT"
