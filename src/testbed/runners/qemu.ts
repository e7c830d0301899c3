// The qemu runner, of last resort: Debian's linux-image-amd64 kernel under qemu-system-x86_64 (KVM only
// where the CPU has vmx/svm, TCG otherwise), the host's root shared read-only over virtio-9p with the
// run directory writable at its own path, console on the serial port. Its initramfs (qemu-init.sh)
// mounts those and starts the same guest/init.sh as the other runners. `bash scripts/setup-host.sh
// --runner qemu` installs QEMU and unpacks the kernel under .testbed/qemu.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  GUEST_TOOLS,
  INIT,
  REPO,
  bootProcess,
  initEnvironment,
  kernelArguments,
  setupCommand,
  unreadable,
  type BootRequest,
  type KernelRunner,
} from "./runner.ts";

const QEMU = "/usr/bin/qemu-system-x86_64";
const QEMU_DIR = join(REPO, ".testbed/qemu");
const KERNEL_DIR = join(QEMU_DIR, "kernel");
const INITRAMFS = join(QEMU_DIR, "initramfs.cpio");
const SETUP = `run "${setupCommand("qemu")}" as root`;

export const qemuRunner: KernelRunner = {
  name: "qemu",
  async refusal() {
    const missing = await unreadable([QEMU, INITRAMFS, ...GUEST_TOOLS]);
    if ((await kernelImage()) === undefined) missing.push(`${KERNEL_DIR}/boot/vmlinuz-*`);
    if (missing.length === 0) return undefined;
    return `missing ${missing.join(", ")}: ${SETUP} (installs qemu-system-x86, unpacks Debian's linux-image-amd64)`;
  },
  async boot(request: BootRequest) {
    const kernel = await kernelImage();
    if (kernel === undefined) throw new Error(`no kernel under ${KERNEL_DIR}: ${SETUP}`);
    const share = (tag: string, path: string, readonly: boolean) => [
      "-fsdev",
      `local,id=${tag},path=${path},security_model=none,multidevs=remap${readonly ? ",readonly=on" : ""}`,
      "-device",
      `virtio-9p-pci,fsdev=${tag},mount_tag=${tag}`,
    ];
    const append = [
      "console=ttyS0",
      "quiet",
      // A panic reboots, and -no-reboot turns that into QEMU's exit instead of a hang until the timeout.
      "panic=-1",
      ...kernelArguments({
        TESTBED_INIT: INIT,
        TESTBED_RUN_DIR: request.runDir,
        ...initEnvironment("qemu", request, join(KERNEL_DIR, "lib/modules")),
      }),
    ];
    // prettier-ignore
    const args = [
      "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none", "-serial", "stdio",
      ...(await acceleration()), "-m", "1G", "-smp", "1",
      "-kernel", kernel, "-initrd", INITRAMFS, "-append", append.join(" "),
      ...share("hostroot", "/", true), ...share("rundir", request.runDir, false),
    ];
    return bootProcess(QEMU, args, request);
  },
};

async function kernelImage(): Promise<string | undefined> {
  const images = await readdir(join(KERNEL_DIR, "boot")).catch(() => []);
  const image = images.find((name) => name.startsWith("vmlinuz-"));
  return image && join(KERNEL_DIR, "boot", image);
}

/** KVM only with hardware virtualisation: /dev/kvm without vmx/svm is slower than TCG for a stock kernel. */
async function acceleration(): Promise<string[]> {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8");
  const hardware = /^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo);
  const kvm = hardware && (await unreadable(["/dev/kvm"])).length === 0;
  return kvm ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg", "-cpu", "max"];
}
