// The node agent's DaemonSet: one agent per node, on the host network, running before the node is Ready.
import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { ClusterSpec } from "../spec/schema.ts";
import { parseListen } from "../net/listen.ts";
import {
  AGENT_NAME,
  CNI_BIN_DIR,
  CNI_CONF_DIR,
  CONFIG_DIR,
  CONFIG_MAP_NAME,
  CONFIG_PATH,
  ENTRYPOINT,
  HOST_CNI_BIN_MOUNT,
  IMAGE_CNI_BIN_DIR,
  LIB_MODULES,
  RUN_DIR,
  XTABLES_LOCK,
  labelsOf,
  metadataOf,
} from "./names.ts";

/**
 * Node's flags for the agent: a 1 MB young generation and one V8 worker thread instead of the
 * defaults (16 MB, one per core) take about 8 MB off its RSS; the agent allocates little and is idle
 * between reconciles (bench/agent.ts measures the agent with exactly these).
 */
export const AGENT_NODE_OPTIONS = "--max-semi-space-size=1 --v8-pool-size=1";

/** Where containerd pins each pod sandbox's network namespace (/var/run is /run). */
const NETNS_DIR = "/run/netns";

/** Host and port the kubelet probes: the listen address itself, or loopback when it listens on all. */
export function probeTarget(listenAddress: string): { host: string; port: number } {
  const { host, port } = parseListen(listenAddress);
  return { host: host === "0.0.0.0" ? "127.0.0.1" : host, port };
}

export function agentDaemonSet(spec: ClusterSpec): IDaemonSet {
  const { host, port } = probeTarget(spec.agent.listenAddress);
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { host, port, path },
    periodSeconds,
    failureThreshold,
    timeoutSeconds: 2,
  });
  const hostPath = (
    name: string,
    path: string,
    type: "DirectoryOrCreate" | "FileOrCreate" | "Directory",
  ) => ({
    name,
    hostPath: { path, type },
  });
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: metadataOf(AGENT_NAME),
    spec: {
      selector: { matchLabels: labelsOf(AGENT_NAME) },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: labelsOf(AGENT_NAME) },
        spec: {
          serviceAccountName: AGENT_NAME,
          // Pod networking is what this agent provides: it cannot depend on it.
          hostNetwork: true,
          dnsPolicy: "ClusterFirstWithHostNet",
          priorityClassName: "system-node-critical",
          // Nodes stay NotReady (and tainted) until a CNI config exists, which this agent writes.
          tolerations: [{ operator: "Exists" }],
          nodeSelector: { "kubernetes.io/os": "linux" },
          terminationGracePeriodSeconds: 30,
          initContainers: [
            {
              name: "install-cni",
              image: spec.agent.image,
              command: [...ENTRYPOINT],
              args: ["install-cni", "--from", IMAGE_CNI_BIN_DIR, "--to", HOST_CNI_BIN_MOUNT],
              // Copying files into a root-owned host directory needs no capability at all.
              securityContext: {
                privileged: false,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [{ name: "cni-bin", mountPath: HOST_CNI_BIN_MOUNT }],
            },
          ],
          containers: [
            {
              name: "agent",
              image: spec.agent.image,
              command: [...ENTRYPOINT],
              args: ["agent", "--config", CONFIG_PATH],
              env: [
                { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
                { name: "NODE_OPTIONS", value: AGENT_NODE_OPTIONS },
              ],
              // Privileged, because NET_ADMIN + NET_RAW (enough for iptables-restore and `ip link`, as
              // kube-proxy and ip-masq-agent use them) cannot write net.ipv4.ip_forward: the runtime mounts
              // /proc/sys read-only in every unprivileged container, and the agent keeps that sysctl at 1
              // on every sync (DATAPATH.md: cross-node NodePort and same-node ClusterIP need it).
              // The capabilities stay listed so the need is visible if the sysctl moves elsewhere.
              securityContext: {
                privileged: true,
                capabilities: { add: ["NET_ADMIN", "NET_RAW"] },
              },
              // Memory from bench/agent.ts (bench/results/agent.json, checked by agent-resources.test.ts):
              // the request covers the steady RSS with 110 pods and 200 policies watched, the limit
              // leaves room for a relist's second copy of the store and for growth.
              resources: { requests: { cpu: "20m", memory: "80Mi" }, limits: { memory: "128Mi" } },
              readinessProbe: probe("/readyz", 5, 3),
              livenessProbe: probe("/healthz", 10, 6),
              volumeMounts: [
                { name: "cni-conf", mountPath: CNI_CONF_DIR },
                { name: "cni-bin", mountPath: CNI_BIN_DIR, readOnly: true },
                { name: "run", mountPath: RUN_DIR },
                { name: "xtables-lock", mountPath: XTABLES_LOCK },
                { name: "lib-modules", mountPath: LIB_MODULES, readOnly: true },
                { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                // NetworkPolicy: the pods' network namespaces containerd pins, seen as they come.
                ...(spec.agent.policy.enabled
                  ? [{ name: "netns", mountPath: NETNS_DIR, mountPropagation: "HostToContainer" as const }]
                  : []),
              ],
            },
          ],
          volumes: [
            hostPath("cni-conf", CNI_CONF_DIR, "DirectoryOrCreate"),
            hostPath("cni-bin", CNI_BIN_DIR, "DirectoryOrCreate"),
            hostPath("run", RUN_DIR, "DirectoryOrCreate"),
            // Shared with kube-proxy and every other iptables user on the node.
            hostPath("xtables-lock", XTABLES_LOCK, "FileOrCreate"),
            hostPath("lib-modules", LIB_MODULES, "Directory"),
            { name: "config", configMap: { name: CONFIG_MAP_NAME } },
            ...(spec.agent.policy.enabled ? [hostPath("netns", NETNS_DIR, "DirectoryOrCreate")] : []),
          ],
        },
      },
    },
  };
}
