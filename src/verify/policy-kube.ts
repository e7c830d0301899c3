// `verify --policies` on a real cluster: the model's two namespaces (created and deleted by the caller,
// labelled here so policies can select them), its four pods (busybox httpd on TCP 80 and 81, the ports
// named as the cases name them, pinned to their nodes), the cases' NetworkPolicies through the API,
// and probes as `wget` runs in the client pod through the API server's exec.
import type { KubeApi, KubeObject } from "../kube/api.ts";
import type { PodExec } from "../kube/exec.ts";
import { startPod } from "../kube/pods.ts";
import type { PolicyCluster } from "./policy-suite.ts";
import {
  MODEL_NAMESPACE_LABEL,
  MODEL_POD_LABEL,
  SERVED_PORTS,
  portName,
  probeAnswers,
  probeCommand,
  probeTimeoutMs,
  type ModelNamespace,
  type ModelPod,
} from "./policy-cases.ts";

export interface PolicyKubeOptions {
  api: KubeApi;
  exec: PodExec;
  /** The model's namespaces, created (and deleted) by the caller. */
  namespaces: Record<ModelNamespace, string>;
  busybox: string;
  timeoutMs: number;
}

const CONTAINER = "serve";
// Serves / on both ports (busybox httpd daemonizes once listening), then idles.
const SERVE = `mkdir -p /www && echo ok > /www/index.html && ${SERVED_PORTS.map(
  (port) => `httpd -p ${port} -h /www`,
).join(" && ")} && exec sleep 86400`;

export function policyKubeCluster(options: PolicyKubeOptions): PolicyCluster {
  const { api, namespaces } = options;
  const split = (model: ModelPod) => model.split("/") as [ModelNamespace, "a" | "b"];
  return {
    async createModel(placement) {
      for (const [model, namespace] of Object.entries(namespaces))
        await api.mergePatch(
          { apiVersion: "v1", kind: "Namespace", name: namespace },
          // The patch's metadata replaces the reference's, so it names the object again.
          { metadata: { name: namespace, labels: { [MODEL_NAMESPACE_LABEL]: model } } },
        );
      const pods = await Promise.all(
        Object.entries(placement).map(async ([model, node]) => {
          const [namespace, name] = split(model as ModelPod);
          const started = await startPod(
            api,
            servingPod(options, namespaces[namespace], name, node.name),
            "ready",
            {
              timeoutMs: options.timeoutMs,
            },
          );
          const ip = (started.status as { podIP?: string } | undefined)?.podIP;
          if (!ip) throw new Error(`pod ${namespaces[namespace]}/${name} is ready but has no address`);
          return [model, { ip, node: node.name }] as const;
        }),
      );
      const where = new Map(pods);
      const nodeIPs = new Map(Object.values(placement).map((node) => [node.name, node.ip]));
      return {
        namespace: (model) => namespaces[model],
        pod: (model) => where.get(model)!,
        nodeIP: (node) => nodeIPs.get(node)!,
      };
    },
    async apply(policy) {
      await api.create(policy as KubeObject);
    },
    async remove(policy) {
      await api.delete({
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        name: policy.metadata!.name!,
        namespace: policy.metadata!.namespace!,
      });
    },
    async probe(from, targets) {
      const [namespace, name] = split(from);
      const result = await options.exec.exec(
        { namespace: namespaces[namespace], name, container: CONTAINER },
        probeCommand(targets),
        { timeoutMs: probeTimeoutMs(targets) },
      );
      return probeAnswers(from, targets, result);
    },
  };
}

function servingPod(options: PolicyKubeOptions, namespace: string, name: string, node: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { [MODEL_POD_LABEL]: name } },
    spec: {
      nodeName: node,
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 0,
      tolerations: [{ operator: "Exists" }],
      containers: [
        {
          name: CONTAINER,
          image: options.busybox,
          command: ["sh", "-c", SERVE],
          ports: SERVED_PORTS.map((port) => ({ name: portName(port), containerPort: port, protocol: "TCP" })),
        },
      ],
    },
  };
}
