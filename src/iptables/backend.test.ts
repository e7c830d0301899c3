import { describe, expect, it } from "vitest";
import { detectBackend } from "./backend.ts";
import { fakeRunner } from "../../test/fakes/runner.ts";

const kubeProxyRules = `*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
-A PREROUTING -j KUBE-SERVICES
-A OUTPUT -j KUBE-SERVICES
COMMIT
`;
const emptyTables = `*nat
:PREROUTING ACCEPT [0:0]
COMMIT
*filter
:INPUT ACCEPT [0:0]
COMMIT
`;

describe("detectBackend", () => {
  it("takes the backend where kubelet's hint chain is, even with fewer rules", async () => {
    const runner = fakeRunner()
      .on("iptables-legacy-save", { stdout: kubeProxyRules })
      .on("iptables-nft-save", { stdout: "*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n" });
    const detection = await detectBackend(runner.run, "legacy");
    expect(detection.backend).toEqual({
      name: "nft",
      save: "iptables-nft-save",
      restore: "iptables-nft-restore",
    });
    expect(detection.reason).toMatch(/kubelet/);
  });

  it("takes legacy when it holds more rules", async () => {
    const runner = fakeRunner()
      .on("iptables-legacy-save", { stdout: kubeProxyRules })
      .on("iptables-nft-save", { stdout: "" });
    expect((await detectBackend(runner.run, "nft")).backend.name).toBe("legacy");
  });

  it("takes nft when it holds more rules", async () => {
    const runner = fakeRunner()
      .on("iptables-legacy-save", { stdout: "" })
      .on("iptables-nft-save", { stdout: kubeProxyRules });
    expect((await detectBackend(runner.run, "legacy")).backend.name).toBe("nft");
  });

  it("falls back to legacy when iptables-nft-save is missing or fails", async () => {
    const missing = fakeRunner().on("iptables-legacy-save", { stdout: "" });
    expect((await detectBackend(missing.run, "nft")).backend.name).toBe("legacy");
    const failing = fakeRunner()
      .on("iptables-legacy-save", { stdout: "" })
      .on("iptables-nft-save", { code: 1, stderr: "Protocol not supported" });
    expect((await detectBackend(failing.run, "nft")).backend.name).toBe("legacy");
  });

  it("without rules, takes the backend whose tables exist, then the node's default", async () => {
    const tables = fakeRunner()
      .on("iptables-legacy-save", { stdout: emptyTables })
      .on("iptables-nft-save", { stdout: "" });
    expect((await detectBackend(tables.run, "nft")).backend.name).toBe("legacy");
    const nothing = fakeRunner()
      .on("iptables-legacy-save", { stdout: "" })
      .on("iptables-nft-save", { stdout: "" });
    expect((await detectBackend(nothing.run, "nft")).backend.name).toBe("nft");
    expect((await detectBackend(nothing.run, "legacy")).backend.name).toBe("legacy");
  });

  it("fails clearly when neither backend works", async () => {
    await expect(detectBackend(fakeRunner().run, "nft")).rejects.toThrow(/neither iptables-legacy-save nor/);
  });
});
