// The uml runner: Debian's User-Mode Linux kernel with the host's file system as its root (hostfs),
// guest/init.sh as PID 1 and the console on the kernel's stdout. linux.uml runs with the XSAVE ptrace
// fix preloaded (xsave-fix.c): hosts whose XSAVE area is larger than UML's buffer (AVX-512, AMX) refuse
// UML's FPU writes without it, and elsewhere it never pads (measured: docs/datapath-findings.md).
import {
  GUEST_TOOLS,
  INIT,
  REPO,
  SETUP_FIX,
  bootProcess,
  initEnvironment,
  kernelArguments,
  unreadable,
  type BootRequest,
  type KernelRunner,
} from "./runner.ts";

const UML_KERNEL = "/usr/bin/linux.uml";
const MODULES = "/usr/lib/uml/modules";
/** Built by scripts/setup-host.sh from xsave-fix.c. */
const XSAVE_FIX = `${REPO}/.testbed/lib/uml-xsave-fix.so`;

/** `xsaveFix: false` only for the negative control that shows what the fix is for. */
export function umlRunner(options: { xsaveFix: boolean } = { xsaveFix: true }): KernelRunner {
  return {
    name: "uml",
    async refusal() {
      const needed = [UML_KERNEL, MODULES, "/lib/modules", ...GUEST_TOOLS];
      const missing = await unreadable(options.xsaveFix ? [...needed, XSAVE_FIX] : needed);
      if (missing.length === 0) return undefined;
      return `missing ${missing.join(", ")}: ${SETUP_FIX} (installs user-mode-linux, containernetworking-plugins, iptables, gcc, ... and builds the XSAVE fix)`;
    },
    boot(request: BootRequest) {
      // prettier-ignore
      const args = [
        "mem=1G", `uml_dir=${request.runDir}`, "rootfstype=hostfs", "rootflags=/", "rw",
        "init=/bin/sh", "con=null", "con0=null,fd:1",
        ...kernelArguments(initEnvironment("uml", request, MODULES)),
        "--", INIT,
      ];
      const env = { ...process.env };
      if (options.xsaveFix) env.LD_PRELOAD = XSAVE_FIX;
      else delete env.LD_PRELOAD;
      return bootProcess(UML_KERNEL, args, request, { env });
    },
  };
}
