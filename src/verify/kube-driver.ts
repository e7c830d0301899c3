// The verification suite's ClusterDriver for a real Kubernetes cluster: test pods pinned to nodes by
// nodeName, commands through the API server's exec, node-level commands in a privileged hostNetwork
// busybox pod per node (what `kubectl debug node` starts), services through the API. Everything lives
// in one namespace the caller creates and deletes.
import type { KubeApi, KubeObject } from "../kube/client.ts";
import type { PodExec } from "../kube/exec.ts";
import { perNodeName, startPod } from "../kube/pods.ts";
import { waitFor } from "../kube/wait.ts";
import { internalIp, isNodeReady } from "../kube/nodes.ts";
import { modelOf } from "../kube/models.ts";
import type { Progress } from "../kube/wait.ts";
import type {
  ClusterDriver,
  Environment,
  ExecOptions,
  ExecResult,
  NodeRef,
  PodRef,
  PodRequest,
  ServiceRef,
  ServiceRequest,
} from "./driver.ts";

export interface KubeDriverOptions {
  api: KubeApi;
  exec: PodExec;
  /** The kube context, shown in reports. */
  name: string;
  /** Created and deleted by the caller. */
  namespace: string;
  images: { busybox: string; nginx: string };
  /** Fetched by the egress check; any answer passes (the egress address of a real cluster is not known). */
  echoUrl: string;
  /** Resolved by the DNS check through kube-dns. */
  dnsName: string;
  /** How long a pod or a service's endpoints may take. */
  timeoutMs: number;
  /** Progress for pod starts that take more than a second (image pulls). */
  progress?: (label: string) => Progress;
}

const HTTP_PORT = 8080;
const CLIENT_IP_PATH = "/clientip";
/** Selects one test pod; services select their one backend by it. */
export const POD_LABEL = "aks-ipvlan.io/verify-pod";
const NGINX_CONFIG = "verify-http";
const CONTAINER = { client: "client", http: "http", debug: "debug" } as const;

// nginx answers with the client's address and port, as agnhost netexec's /clientip does.
const NGINX_CONF = `server {
  listen ${HTTP_PORT};
  location = ${CLIENT_IP_PATH} {
    default_type text/plain;
    return 200 "$remote_addr:$remote_port\\n";
  }
}
`;

export function kubeDriver(options: KubeDriverOptions): ClusterDriver {
  const { api, namespace } = options;
  const debugPods = new Map<string, Promise<string>>();
  let nginxConfig: Promise<unknown> | undefined;

  const started = async (pod: KubeObject) => {
    const progress = options.progress?.(`pod ${pod.metadata.name}`);
    try {
      return await startPod(api, pod, "ready", {
        timeoutMs: options.timeoutMs,
        ...(progress ? { onProgress: (line: string) => progress.update(line) } : {}),
      });
    } finally {
      progress?.done();
    }
  };
  const exec = async (pod: string, container: string, argv: string[], execOptions: ExecOptions = {}) => {
    const begin = performance.now();
    const result = await options.exec.exec({ namespace, name: pod, container }, argv, execOptions);
    return { argv, ...result, durationMs: Math.round(performance.now() - begin) } satisfies ExecResult;
  };

  return {
    name: options.name,

    async environment(): Promise<Environment> {
      const dns = await api.get({
        apiVersion: "v1",
        kind: "Service",
        name: "kube-dns",
        namespace: "kube-system",
      });
      const clusterDnsIp = dns && modelOf("v1/Service", dns).spec?.clusterIP;
      if (!clusterDnsIp)
        throw new Error("no Service kube-system/kube-dns with a ClusterIP: is this an AKS cluster?");
      return {
        echoUrl: options.echoUrl,
        expectedEgressSource: () => undefined,
        clusterDnsIp,
        dnsName: options.dnsName,
        httpPort: HTTP_PORT,
        clientIpPath: CLIENT_IP_PATH,
      };
    },

    async nodes(): Promise<NodeRef[]> {
      const nodes = (await api.list("v1", "Node", { labelSelector: "kubernetes.io/os=linux" })).items;
      return nodes
        .filter(isNodeReady)
        .flatMap((node) => {
          const ip = internalIp(node);
          return ip ? [{ name: node.metadata.name, ip }] : [];
        })
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    async createPod(request: PodRequest): Promise<PodRef> {
      if (request.role === "dns") {
        throw new Error("the dns role is the testbed's stand-in for kube-dns; a cluster has its own");
      }
      if (request.role === "http") {
        nginxConfig ??= api.apply(
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: NGINX_CONFIG, namespace },
            data: { "default.conf": NGINX_CONF },
          },
          { force: true },
        );
        await nginxConfig;
      }
      const pod = await started(testPod(options, request));
      const ip = modelOf("v1/Pod", pod).status?.podIP;
      if (!ip) throw new Error(`pod ${request.name} is ready but has no address`);
      return { name: request.name, node: request.node, ip, role: request.role };
    },

    async deletePod(pod: PodRef): Promise<void> {
      await api.delete({ apiVersion: "v1", kind: "Pod", name: pod.name, namespace });
    },

    execInPod: (pod, argv, execOptions) =>
      exec(pod.name, CONTAINER[pod.role as "client" | "http"], argv, execOptions),

    async execOnNode(node, argv, execOptions) {
      let debugPod = debugPods.get(node.name);
      if (!debugPod) {
        const pod = nodeDebugPod(options, node.name);
        debugPod = started(pod).then(() => pod.metadata.name);
        debugPods.set(node.name, debugPod);
      }
      return exec(await debugPod, CONTAINER.debug, argv, execOptions);
    },

    async createService(request: ServiceRequest): Promise<ServiceRef> {
      await api.create({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: request.name, namespace },
        spec: {
          type: request.type,
          selector: { [POD_LABEL]: request.backend.name },
          ports: [{ port: request.port, targetPort: request.targetPort, protocol: request.protocol }],
        },
      });
      await waitFor(
        api,
        {
          apiVersion: "discovery.k8s.io/v1",
          kind: "EndpointSlice",
          namespace,
          labelSelector: `kubernetes.io/service-name=${request.name}`,
          what: `endpoints of service ${request.name}`,
        },
        (slices) => {
          const ready = slices.some((slice) => readyAddresses(slice).includes(request.backend.ip));
          return { done: ready, progress: ready ? "ready" : `waiting for ${request.backend.ip}` };
        },
        { timeoutMs: options.timeoutMs },
      );
      // Read after the endpoints exist: by then every field the control plane fills in is there.
      const service = await api.get({ apiVersion: "v1", kind: "Service", name: request.name, namespace });
      const spec = service && modelOf("v1/Service", service).spec;
      if (!spec?.clusterIP) throw new Error(`service ${request.name} got no ClusterIP`);
      const nodePort = spec.ports?.[0]?.nodePort;
      return {
        name: request.name,
        clusterIP: spec.clusterIP,
        port: request.port,
        protocol: request.protocol,
        ...(nodePort ? { nodePort } : {}),
      };
    },

    async deleteService(service: ServiceRef): Promise<void> {
      await api.delete({ apiVersion: "v1", kind: "Service", name: service.name, namespace });
    },

    externalClient: () => ({
      supported: false,
      reason: "a real cluster has no test host outside it; probe NodePorts from outside by hand",
    }),
  };
}

function testPod(options: KubeDriverOptions, request: PodRequest): KubeObject {
  // No readiness probe: the kubelet probes from the node, which is the node → pod path under test;
  // a broken host path must fail its check, not keep the suite from starting.
  const container =
    request.role === "http"
      ? {
          name: CONTAINER.http,
          image: options.images.nginx,
          ports: [
            {
              containerPort: HTTP_PORT,
              protocol: "TCP",
              ...(request.hostPort ? { hostPort: request.hostPort } : {}),
            },
          ],
          volumeMounts: [{ name: "conf", mountPath: "/etc/nginx/conf.d" }],
        }
      : { name: CONTAINER.client, image: options.images.busybox, command: ["sleep", "86400"] };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: request.name, namespace: options.namespace, labels: { [POD_LABEL]: request.name } },
    spec: {
      nodeName: request.node,
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 0,
      tolerations: [{ operator: "Exists" }],
      containers: [container],
      ...(request.role === "http" ? { volumes: [{ name: "conf", configMap: { name: NGINX_CONFIG } }] } : {}),
    },
  };
}

/** As `kubectl debug node/NAME --profile=sysadmin` starts it: the node's network, full privileges. */
function nodeDebugPod(options: KubeDriverOptions, node: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: perNodeName("node-debug", node), namespace: options.namespace },
    spec: {
      nodeName: node,
      hostNetwork: true,
      hostPID: true,
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 0,
      tolerations: [{ operator: "Exists" }],
      containers: [
        {
          name: CONTAINER.debug,
          image: options.images.busybox,
          command: ["sleep", "86400"],
          securityContext: { privileged: true },
        },
      ],
    },
  };
}

function readyAddresses(slice: KubeObject): string[] {
  const endpoints = (slice.endpoints ?? []) as Array<{
    addresses?: string[];
    conditions?: { ready?: boolean };
  }>;
  return endpoints
    .filter((endpoint) => endpoint.conditions?.ready !== false)
    .flatMap((e) => e.addresses ?? []);
}
