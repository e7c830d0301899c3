import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { DaemonSet, Deployment } from "kubernetes-models/apps/v1";
import { ConfigMap, Namespace, ServiceAccount } from "kubernetes-models/v1";
import {
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
} from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { parseSpec } from "../spec/load.ts";
import { IPAM_DATA_DIR } from "../cni/conflist.ts";
import { type Manifest, manifestsText, renderManifests } from "./render.ts";
import { probeTarget } from "./agent.ts";
import { WORKLOAD_IDENTITY_CLIENT_ID, WORKLOAD_IDENTITY_LABEL } from "./controller.ts";
import * as names from "./names.ts";

const seedText = readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8");
const seed = parseSpec(seedText);

const models: Record<string, new (data: never) => { validate(): void }> = {
  Namespace,
  ServiceAccount,
  ConfigMap,
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
  DaemonSet,
  Deployment,
};

function find(manifests: Manifest[], kind: string, name: string) {
  const found = manifests.find((m) => m.kind === kind && m.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found as Manifest & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe("renderManifests", () => {
  const manifests = renderManifests(seed);

  it("renders objects that pass the Kubernetes OpenAPI schemas", () => {
    expect(manifests.map((m) => m.kind)).toEqual([
      "Namespace",
      "ServiceAccount",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
      "ConfigMap",
      "DaemonSet",
      "Deployment",
    ]);
    for (const manifest of manifests) {
      const Model = models[manifest.kind]!;
      expect(
        () => new Model(manifest as never).validate(),
        `${manifest.kind} ${manifest.metadata?.name}`,
      ).not.toThrow();
    }
  });

  it("is caught by the schema validation when an object is wrong (negative control)", () => {
    const broken = structuredClone(find(manifests, "DaemonSet", names.AGENT_NAME));
    broken.spec.template.spec.containers[0].ports = [{ containerPort: "http" }];
    expect(() => new DaemonSet(broken as never).validate()).toThrow();
  });

  it("puts namespaced objects in the namespace and cluster objects outside it", () => {
    for (const manifest of manifests) {
      const clusterScoped = ["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(manifest.kind);
      expect(manifest.metadata?.namespace).toBe(clusterScoped ? undefined : names.NAMESPACE);
    }
  });

  it("gives the agent read access to nodes and pods only", () => {
    expect(find(manifests, "ClusterRole", names.AGENT_NAME).rules).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
    ]);
    expect(find(manifests, "ClusterRoleBinding", names.AGENT_NAME).subjects).toEqual([
      { kind: "ServiceAccount", name: names.AGENT_NAME, namespace: names.NAMESPACE },
    ]);
  });

  it("with NetworkPolicy on, lets the agent also read policies and namespaces and see the pods' netns", () => {
    const withPolicy = renderManifests(parseSpec(`${seedText}\nagent:\n  policy:\n    enabled: true\n`));
    expect(find(withPolicy, "ClusterRole", names.AGENT_NAME).rules).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
      { apiGroups: [""], resources: ["namespaces"], verbs: ["list", "watch"] },
      { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["list", "watch"] },
    ]);
    const pod = find(withPolicy, "DaemonSet", names.AGENT_NAME).spec.template.spec;
    expect(pod.volumes).toContainEqual({
      name: "netns",
      hostPath: { path: "/run/netns", type: "DirectoryOrCreate" },
    });
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: "netns",
      mountPath: "/run/netns",
      mountPropagation: "HostToContainer",
    });
    // Off (the default): neither the access nor the mount.
    const agentPod = find(manifests, "DaemonSet", names.AGENT_NAME).spec.template.spec;
    expect(agentPod.volumes.map((v: { name: string }) => v.name)).not.toContain("netns");
  });

  it("lets the controller patch nodes, count pods, write events, and only its own lease and ledger", () => {
    expect(find(manifests, "ClusterRole", names.CONTROLLER_NAME).rules).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch", "patch"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
      { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    ]);
    const role = find(manifests, "Role", names.CONTROLLER_NAME);
    expect(role.rules).toEqual([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        resourceNames: [names.LEASE_NAME],
        verbs: ["get", "update", "patch"],
      },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
      {
        apiGroups: [""],
        resources: ["configmaps"],
        resourceNames: [names.LEDGER_NAME],
        verbs: ["get", "patch"],
      },
    ]);
    const verbs = manifests.flatMap((m) =>
      ((m.rules as { verbs: string[] }[] | undefined) ?? []).flatMap((r) => r.verbs),
    );
    expect(verbs).not.toContain("*");
    expect(verbs).not.toContain("delete");
  });

  it("stores the validated spec in the ConfigMap, and it reads back as the same spec", () => {
    const configMap = find(manifests, "ConfigMap", names.CONFIG_MAP_NAME);
    expect(parseSpec(configMap.data[names.CONFIG_KEY])).toEqual(seed);
  });

  it("runs the agent on every node's host network, before the node is Ready", () => {
    const pod = find(manifests, "DaemonSet", names.AGENT_NAME).spec.template.spec;
    expect(pod).toMatchObject({
      hostNetwork: true,
      dnsPolicy: "ClusterFirstWithHostNet",
      priorityClassName: "system-node-critical",
      tolerations: [{ operator: "Exists" }],
      serviceAccountName: names.AGENT_NAME,
    });
    const [agent] = pod.containers;
    expect(agent).toMatchObject({
      name: "agent",
      image: seed.agent.image,
      command: ["node", "/app/dist/cli/main.js"],
      args: ["agent", "--config", "/etc/aks-ipvlan/cluster.yaml"],
      env: [
        { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
        // A small young generation and one V8 worker: the agent's RSS as bench/agent.ts measures it.
        { name: "NODE_OPTIONS", value: "--max-semi-space-size=1 --v8-pool-size=1" },
      ],
      readinessProbe: { httpGet: { host: "127.0.0.1", port: 9464, path: "/readyz" } },
      livenessProbe: { httpGet: { host: "127.0.0.1", port: 9464, path: "/healthz" } },
    });
    const mounts = Object.fromEntries(
      agent.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]),
    );
    const volumes = Object.fromEntries(
      pod.volumes.map((v: { name: string; hostPath?: { path: string; type: string } }) => [
        v.name,
        v.hostPath,
      ]),
    );
    expect(volumes).toMatchObject({
      "cni-conf": { path: "/etc/cni/net.d", type: "DirectoryOrCreate" },
      "cni-bin": { path: "/opt/cni/bin", type: "DirectoryOrCreate" },
      run: { path: "/run/aks-ipvlan", type: "DirectoryOrCreate" },
      "xtables-lock": { path: "/run/xtables.lock", type: "FileOrCreate" },
      "lib-modules": { path: "/lib/modules" },
    });
    expect(mounts).toMatchObject({
      "/etc/cni/net.d": "cni-conf",
      "/opt/cni/bin": "cni-bin",
      "/run/aks-ipvlan": "run",
      "/run/xtables.lock": "xtables-lock",
      "/lib/modules": "lib-modules",
      "/etc/aks-ipvlan": "config",
    });
    // The IPAM data directory must be inside the mounted tmpfs directory, or reservations vanish on restart.
    expect(IPAM_DATA_DIR.startsWith(`${names.RUN_DIR}/`)).toBe(true);
    expect(pod.initContainers[0]).toMatchObject({
      name: "install-cni",
      image: seed.agent.image,
      args: ["install-cni", "--from", "/opt/aks-ipvlan/cni-bin", "--to", "/host/opt/cni/bin"],
      volumeMounts: [{ name: "cni-bin", mountPath: "/host/opt/cni/bin" }],
    });
  });

  it("runs the controller as two unprivileged, non-root replicas on the host network without host mounts", () => {
    const deployment = find(manifests, "Deployment", names.CONTROLLER_NAME);
    const pod = deployment.spec.template.spec;
    expect(deployment.spec.replicas).toBe(2);
    // host network: it must run before any node has a pod network (nodes get blocks from it)
    expect(pod.hostNetwork).toBe(true);
    expect(pod.tolerations).toContainEqual(
      expect.objectContaining({ key: "node.kubernetes.io/not-ready", operator: "Exists" }),
    );
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(pod.containers[0]).toMatchObject({
      args: ["controller", "--config", names.CONFIG_PATH],
      securityContext: {
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
      },
    });
    expect(pod.volumes.every((v: { hostPath?: unknown }) => v.hostPath === undefined)).toBe(true);
    expect(deployment.spec.template.metadata.labels[WORKLOAD_IDENTITY_LABEL]).toBeUndefined();
  });

  it("wires Azure workload identity when the spec names a client ID", () => {
    const spec = parseSpec(`${seedText}controller: {azureClientId: 00000000-0000-0000-0000-000000000001}\n`);
    const withIdentity = renderManifests(spec);
    expect(find(withIdentity, "ServiceAccount", names.CONTROLLER_NAME).metadata?.annotations).toEqual({
      [WORKLOAD_IDENTITY_CLIENT_ID]: "00000000-0000-0000-0000-000000000001",
    });
    expect(
      find(withIdentity, "Deployment", names.CONTROLLER_NAME).spec.template.metadata.labels[
        WORKLOAD_IDENTITY_LABEL
      ],
    ).toBe("true");
  });

  it("gives the controller no Azure wiring in vxlan mode, where the spec refuses an Azure identity", () => {
    const vxlan = `nodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\nrouting: {mode: vxlan}\n`;
    const rendered = renderManifests(parseSpec(vxlan));
    expect(find(rendered, "ServiceAccount", names.CONTROLLER_NAME).metadata?.annotations).toBeUndefined();
    const pod = find(rendered, "Deployment", names.CONTROLLER_NAME).spec.template;
    expect(Object.keys(pod.metadata.labels).filter((label) => label.includes("azure"))).toEqual([]);
    expect(pod.spec.containers[0].env.map((variable: { name: string }) => variable.name)).toEqual([
      "POD_NAME",
      "POD_NAMESPACE",
    ]);
    expect(() =>
      parseSpec(`${vxlan}controller: {azureClientId: 00000000-0000-0000-0000-000000000001}\n`),
    ).toThrow(/controller\.azureClientId: routing\.mode vxlan makes no Azure call/);
  });

  it("prints one YAML document per object", () => {
    const documents = parseAllDocuments(manifestsText(manifests));
    expect(documents.map((document) => document.toJS().kind)).toEqual(manifests.map((m) => m.kind));
  });
});

describe("probeTarget", () => {
  it("probes loopback when the agent listens on every address, else the address itself", () => {
    expect(probeTarget("0.0.0.0:9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(probeTarget("10.224.0.4:8080")).toEqual({ host: "10.224.0.4", port: 8080 });
  });
});
