// IP forwarding on node NICs: Azure delivers a packet for a pod block to the route's next hop only
// when that NIC has IP forwarding on. The NIC is found from the node's providerID:
// - a VM scale set instance (every AKS node pool): the scale set's NICs are listed; they cannot be
//   changed one by one (the scale set model owns them), so a missing flag is reported with the
//   `az vmss` commands that set it, never changed here;
// - a standalone VM: the NIC in the VM's resource group holding the node IP; with
//   enableIpForwarding the controller sets the flag itself.
import type { NetworkInterface, NetworkManagementClient } from "@azure/arm-network";
import { type ArmCallObserver, observed } from "./arm-client.ts";

export interface NodeNic {
  name: string;
  ip: string;
  providerID?: string;
}

export type NodeMachine =
  | { kind: "vmss"; subscriptionId: string; resourceGroup: string; scaleSet: string; instance: string }
  | { kind: "vm"; subscriptionId: string; resourceGroup: string; vm: string };

export interface NicFinding {
  node: string;
  ip: string;
  nic?: string;
  /** "forwarding-off": found, flag off; "enabled": this run turned it on; "unknown": NIC not found. */
  state: "forwarding-off" | "enabled" | "unknown";
  message: string;
  fix: string;
}

const PROVIDER_ID =
  /^azure:\/\/\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/(?:virtualMachineScaleSets\/([^/]+)\/virtualMachines\/([^/]+)|virtualMachines\/([^/]+))$/i;

export function parseProviderId(providerID: string | undefined): NodeMachine | undefined {
  const match = providerID ? PROVIDER_ID.exec(providerID) : null;
  if (!match) return undefined;
  const [, subscriptionId, resourceGroup, scaleSet, instance, vm] = match;
  if (scaleSet && instance) {
    return {
      kind: "vmss",
      subscriptionId: subscriptionId!,
      resourceGroup: resourceGroup!,
      scaleSet,
      instance,
    };
  }
  return { kind: "vm", subscriptionId: subscriptionId!, resourceGroup: resourceGroup!, vm: vm! };
}

export class NicChecker {
  private readonly clientFor: (subscriptionId: string) => NetworkManagementClient;
  private readonly observe: ArmCallObserver | undefined;
  private readonly pollIntervalMs: number | undefined;

  constructor(
    clientFor: (subscriptionId: string) => NetworkManagementClient,
    options: { observe?: ArmCallObserver; pollIntervalMs?: number } = {},
  ) {
    this.clientFor = clientFor;
    this.observe = options.observe;
    this.pollIntervalMs = options.pollIntervalMs;
  }

  /**
   * Checks every node's NIC; a node maps to undefined when its NIC forwards, otherwise to what is
   * wrong and how to fix it. NICs are listed once per scale set (or resource group, for VMs), not
   * once per node: a 5,000-node cluster costs a few paged calls, not 5,000.
   */
  async checkAll(nodes: readonly NodeNic[], enable: boolean): Promise<Map<string, NicFinding | undefined>> {
    const results = new Map<string, NicFinding | undefined>();
    const groups = new Map<string, { machine: NodeMachine; nodes: NodeNic[] }>();
    for (const node of nodes) {
      const machine = parseProviderId(node.providerID);
      if (!machine) {
        results.set(node.name, {
          node: node.name,
          ip: node.ip,
          state: "unknown",
          message: `providerID ${JSON.stringify(node.providerID ?? "")} is not an Azure VM or scale set instance`,
          fix: "check IP forwarding on this node's NIC by hand: az network nic show --query enableIPForwarding",
        });
        continue;
      }
      const key = [
        machine.subscriptionId,
        machine.resourceGroup,
        machine.kind === "vmss" ? machine.scaleSet : "",
      ]
        .join("/")
        .toLowerCase();
      const group = groups.get(key) ?? { machine, nodes: [] };
      group.nodes.push(node);
      groups.set(key, group);
    }
    for (const { machine, nodes: members } of groups.values()) {
      const client = this.clientFor(machine.subscriptionId);
      const byIp = await this.nicsByIp(client, machine);
      for (const node of members) {
        results.set(node.name, await this.judge(client, machine, node, byIp.get(node.ip), enable));
      }
    }
    return results;
  }

  private async judge(
    client: NetworkManagementClient,
    machine: NodeMachine,
    node: NodeNic,
    nic: NetworkInterface | undefined,
    enable: boolean,
  ): Promise<NicFinding | undefined> {
    if (!nic) {
      return {
        node: node.name,
        ip: node.ip,
        state: "unknown",
        message: `no NIC with private IP ${node.ip} in resource group ${machine.resourceGroup}`,
        fix: "check that the node's InternalIP is its NIC's primary address",
      };
    }
    if (nic.enableIPForwarding) return undefined;
    const nicName = nic.name ?? "?";
    const found = { node: node.name, ip: node.ip, nic: nicName };
    if (machine.kind === "vmss") {
      const where = `-g ${machine.resourceGroup} -n ${machine.scaleSet}`;
      return {
        ...found,
        state: "forwarding-off",
        message: `IP forwarding is off on NIC ${nicName} of scale set ${machine.scaleSet}: pods on other nodes cannot reach this node's pods`,
        fix: `az vmss update ${where} --set virtualMachineProfile.networkProfile.networkInterfaceConfigurations[0].enableIPForwarding=true && az vmss update-instances ${where} --instance-ids '*'`,
      };
    }
    if (!enable) {
      return {
        ...found,
        state: "forwarding-off",
        message: `IP forwarding is off on NIC ${nicName}: pods on other nodes cannot reach this node's pods`,
        fix: `az network nic update -g ${machine.resourceGroup} -n ${nicName} --ip-forwarding true (or run the controller with --enable-ip-forwarding)`,
      };
    }
    await observed(this.observe, "networkInterfaces.createOrUpdate", () =>
      client.networkInterfaces.beginCreateOrUpdateAndWait(
        machine.resourceGroup,
        nicName,
        { ...nic, enableIPForwarding: true },
        { updateIntervalInMs: this.pollIntervalMs },
      ),
    );
    return {
      ...found,
      state: "enabled",
      message: `IP forwarding was off on NIC ${nicName}; turned it on`,
      fix: "nothing to do",
    };
  }

  private nicsByIp(
    client: NetworkManagementClient,
    machine: NodeMachine,
  ): Promise<Map<string, NetworkInterface>> {
    const pages =
      machine.kind === "vmss"
        ? client.networkInterfaces.listVirtualMachineScaleSetNetworkInterfaces(
            machine.resourceGroup,
            machine.scaleSet,
          )
        : client.networkInterfaces.list(machine.resourceGroup);
    return observed(this.observe, "networkInterfaces.list", async () => {
      const byIp = new Map<string, NetworkInterface>();
      for await (const nic of pages) {
        for (const config of nic.ipConfigurations ?? []) {
          if (config.privateIPAddress) byIp.set(config.privateIPAddress, nic);
        }
      }
      return byIp;
    });
  }
}
