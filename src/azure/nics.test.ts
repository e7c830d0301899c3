import { describe, expect, it } from "vitest";
import { parseProviderId } from "./nics.ts";

describe("parseProviderId", () => {
  it("reads scale set instances (AKS node pools)", () => {
    expect(
      parseProviderId(
        "azure:///subscriptions/s1/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-123-vmss/virtualMachines/3",
      ),
    ).toEqual({
      kind: "vmss",
      subscriptionId: "s1",
      resourceGroup: "MC_rg_aks_westeurope",
      scaleSet: "aks-nodepool1-123-vmss",
      instance: "3",
    });
  });

  it("reads standalone VMs", () => {
    expect(
      parseProviderId(
        "azure:///subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/node-a",
      ),
    ).toEqual({ kind: "vm", subscriptionId: "s1", resourceGroup: "rg", vm: "node-a" });
  });

  it("rejects anything else", () => {
    expect(parseProviderId(undefined)).toBeUndefined();
    expect(parseProviderId("kind://docker/kind/kind-worker")).toBeUndefined();
  });
});
