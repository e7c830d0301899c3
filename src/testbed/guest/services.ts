// ClusterIP and NodePort allocation for the emulated cluster, like the API server's allocators: kube-dns
// takes the service CIDR's tenth address, every other service the next free one; node ports count up
// from the bottom of the default range.
import type { Service } from "./kube-proxy.ts";

export const SERVICE_CIDR = "10.0.0.0/16";
export const CLUSTER_DNS_IP = "10.0.0.10";
const FIRST_CLUSTER_IP = 100;
const FIRST_NODE_PORT = 30000;

export class ServiceRegistry {
  readonly #services = new Map<string, Service>();
  readonly #retired = new Set<string>();
  #nextIp = FIRST_CLUSTER_IP;
  #nextNodePort = FIRST_NODE_PORT;

  add(
    request: Omit<Service, "clusterIP" | "nodePort">,
    options: { nodePort: boolean; clusterIP?: string },
  ): Service {
    if (this.#services.has(request.name)) throw new Error(`service ${request.name} exists`);
    const service: Service = {
      ...request,
      clusterIP: options.clusterIP ?? `10.0.${Math.floor(this.#nextIp / 256)}.${this.#nextIp++ % 256}`,
      ...(options.nodePort ? { nodePort: this.#nextNodePort++ } : {}),
    };
    this.#services.set(service.name, service);
    this.#retired.delete(service.name);
    return service;
  }

  remove(name: string): void {
    if (this.#services.delete(name)) this.#retired.add(name);
  }

  list(): Service[] {
    return [...this.#services.values()];
  }

  /** Deleted services whose chains the next sync removes; cleared by `synced`. */
  retired(): string[] {
    return [...this.#retired];
  }

  synced(): void {
    this.#retired.clear();
  }
}
