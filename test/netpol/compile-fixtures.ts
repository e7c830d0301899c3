// The two pods and the one-policy world the rule compiler's unit tests (pod payload, node rules) share.
import type { NetworkPolicy, PolicyPod, PolicyWorld } from "../../src/policy/model.ts";

export const server: PolicyPod = {
  namespace: "prod",
  name: "server",
  ip: "10.244.0.2",
  node: "n1",
  labels: { app: "server" },
  ports: [{ name: "http", port: 8080, protocol: "TCP" }],
};
export const client: PolicyPod = {
  ...server,
  name: "client",
  ip: "10.244.0.3",
  labels: { app: "client" },
  ports: [],
};

/** Both pods and one policy, prod/web, with this spec. */
export function world(spec: NetworkPolicy["spec"], pods = [server, client]): PolicyWorld {
  return {
    pods,
    namespaces: [{ name: "prod", labels: {} }],
    policies: [
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "web", namespace: "prod" },
        spec,
      },
    ],
  };
}

/** The `-A CHAIN` lines of one chain in a restore payload. */
export const chainLines = (restore: string, chain: string) =>
  restore.split("\n").filter((line) => line.startsWith(`-A ${chain} `));
