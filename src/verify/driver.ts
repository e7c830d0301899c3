// The cluster driver: everything the verification suite needs from a cluster, and nothing more.
// The testbed (emulated AKS in User-Mode Linux) and a real Kubernetes cluster both implement it, so one
// suite of checks runs against either. Commands are argument arrays that busybox understands, because
// busybox is the one userland both a pod image and the testbed have.

export interface NodeRef {
  name: string;
  /** The node's primary NIC address (its InternalIP). */
  ip: string;
}

/**
 * client: a pod that only runs the commands it is given.
 * http: serves GET `Environment.clientIpPath` on `Environment.httpPort` with the client's address in
 *   the body (agnhost netexec's /clientip, or a busybox httpd CGI).
 * dns: a cluster DNS server forwarding to the node's upstream resolver (the testbed's kube-dns backend).
 */
type PodRole = "client" | "http" | "dns";

export interface PodRequest {
  /** Unique in the run; a DNS label. */
  name: string;
  node: string;
  role: PodRole;
  /** Publishes the http port on the node's IP at this port (a container hostPort). */
  hostPort?: number;
}

export interface PodRef {
  name: string;
  node: string;
  ip: string;
  role: PodRole;
}

export interface ServiceRequest {
  name: string;
  /** The one backend of the service. */
  backend: PodRef;
  type: "ClusterIP" | "NodePort";
  protocol: "TCP" | "UDP";
  port: number;
  targetPort: number;
}

export interface ServiceRef {
  name: string;
  clusterIP: string;
  port: number;
  protocol: "TCP" | "UDP";
  /** Set for type NodePort. */
  nodePort?: number;
}

export interface ExecOptions {
  timeoutMs?: number;
}

export interface ExecResult {
  /** The command as run, for the evidence. */
  argv: string[];
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Facts about the cluster's surroundings that the checks compare against. */
export interface Environment {
  /** An HTTP server outside the cluster whose response body holds the client address it saw. */
  echoUrl: string;
  /**
   * The address the echo server must see for traffic from a pod on `node`, or undefined when it cannot
   * be known (a real cluster leaves through a public IP): then the check only requires an answer.
   */
  expectedEgressSource(node: NodeRef): string | undefined;
  /** The kube-dns ClusterIP pods use as their resolver. */
  clusterDnsIp: string;
  /** A name the cluster DNS resolves through Azure DNS (168.63.129.16), and the address it must give. */
  dnsName: string;
  dnsAddress?: string;
  /** Port and path of the `http` role's client-address endpoint. */
  httpPort: number;
  clientIpPath: string;
}

/** A host outside the cluster (the internet namespace in the testbed), or the reason there is none. */
export type ExternalClient =
  | { supported: true; exec(argv: string[], options?: ExecOptions): Promise<ExecResult> }
  | { supported: false; reason: string };

export interface ClusterDriver {
  /** Shown in reports, e.g. "testbed" or the kube context. */
  readonly name: string;
  environment(): Promise<Environment>;
  nodes(): Promise<NodeRef[]>;
  /** Creates the pod and waits until it is running and has an address. */
  createPod(request: PodRequest): Promise<PodRef>;
  deletePod(pod: PodRef): Promise<void>;
  execInPod(pod: PodRef, argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Runs in the node's network namespace with the node's privileges (a hostNetwork pod in a cluster). */
  execOnNode(node: NodeRef, argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Creates the service and waits until its rules are in place on every node. */
  createService(request: ServiceRequest): Promise<ServiceRef>;
  deleteService(service: ServiceRef): Promise<void>;
  externalClient(): ExternalClient;
}
