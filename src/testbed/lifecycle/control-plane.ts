// The real control plane inside the guest: etcd and kube-apiserver (scripts/build-kube.sh builds them;
// the guest reads them through its hostfs root) in the emulated internet's namespace, where AKS's
// public API endpoint is: every node reaches it through the VNet as its NIC address, as on AKS. TLS
// with a CA made at start (openssl: node:crypto makes no X.509), service-account tokens, RBAC, the
// default admission plugins. No controller-manager, scheduler or kubelet: the node emulator plays
// the parts the scenario needs (kubelet.ts, daemonset.ts).
import { join } from "node:path";
import { request } from "node:https";
import { mkdir, readFile } from "node:fs/promises";
import { makeControlPlaneCredentials, writeAdminKubeconfig } from "./certificates.ts";
import { logTail, startIn, stopProgram, type Program } from "./processes.ts";

export const API_PORT = 6443;
/** AKS's default Service range (the spec's serviceCidr default). */
const SERVICE_CIDR = "10.0.0.0/16";

export interface ControlPlane {
  url: string;
  /** PEM of the CA that signed the serving and client certificates. */
  ca: string;
  caFile: string;
  /** A kubeconfig for the admin (client certificate in system:masters). */
  adminKubeconfig: string;
  etcd: Program;
  apiserver: Program;
  stop(): Promise<void>;
}

/** Starts etcd and kube-apiserver in namespace `ns`, the API on `address`; resolves when /readyz is ok. */
export async function startControlPlane(options: {
  bin: string;
  dir: string;
  ns: string;
  /** Where the nodes reach the API (advertised), and where the admin does (the guest's own side). */
  address: string;
  adminAddress: string;
  timeoutMs: number;
}): Promise<ControlPlane> {
  const { bin, dir, ns, address, adminAddress } = options;
  const file = (name: string) => join(dir, name);
  await mkdir(dir, { recursive: true });
  await makeControlPlaneCredentials(dir, {
    subjectAltNames: [`IP:${address}`, `IP:${adminAddress}`, "DNS:kubernetes.default.svc"],
  });
  const etcdUrl = "http://127.0.0.1:2379";
  const peerUrl = "http://127.0.0.1:2380";
  // prettier-ignore
  const etcd = startIn(ns, "etcd", [
    join(bin, "etcd"), "--name=lifecycle", `--data-dir=${file("etcd")}`,
    `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=lifecycle=${peerUrl}`,
    // The guest's data is on tmpfs and thrown away with the boot.
    "--unsafe-no-fsync", "--log-level=warn",
  ], file("etcd.log"));
  // prettier-ignore
  const apiserver = startIn(ns, "kube-apiserver", [
    join(bin, "kube-apiserver"), `--etcd-servers=${etcdUrl}`,
    "--bind-address=0.0.0.0", `--advertise-address=${address}`, `--secure-port=${API_PORT}`,
    `--cert-dir=${file("apiserver-certs")}`,
    `--tls-cert-file=${file("apiserver.crt")}`, `--tls-private-key-file=${file("apiserver.key")}`,
    `--client-ca-file=${file("ca.crt")}`,
    `--service-account-key-file=${file("sa.pub")}`, `--service-account-signing-key-file=${file("sa.key")}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--authorization-mode=Node,RBAC", `--service-cluster-ip-range=${SERVICE_CIDR}`,
    "--allow-privileged=true", "--profiling=false",
    // No pod reaches the API through the kubernetes Service here (no kube-proxy rule for it).
    "--endpoint-reconciler-type=none",
  ], file("kube-apiserver.log"));
  const url = `https://${address}:${API_PORT}`;
  const adminUrl = `https://${adminAddress}:${API_PORT}`;
  const ca = await readFile(file("ca.crt"), "utf8");
  const adminKubeconfig = await writeAdminKubeconfig(dir, adminUrl);
  const plane: ControlPlane = {
    url,
    ca,
    caFile: file("ca.crt"),
    adminKubeconfig,
    etcd,
    apiserver,
    stop: async () => {
      await stopProgram(apiserver);
      await stopProgram(etcd);
    },
  };
  const admin = {
    ca,
    cert: await readFile(file("admin.crt"), "utf8"),
    key: await readFile(file("admin.key"), "utf8"),
  };
  const deadline = Date.now() + options.timeoutMs;
  while (!(await readyz(adminUrl, admin))) {
    const gone = [etcd, apiserver].find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (gone || Date.now() > deadline) {
      await plane.stop();
      const why = gone ? `${gone.name} exited` : `kube-apiserver not ready in ${options.timeoutMs / 1000} s`;
      throw new Error(`${why}; ${(gone ?? apiserver).log}:\n${await logTail(gone ?? apiserver)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return plane;
}

function readyz(url: string, admin: { ca: string; cert: string; key: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/readyz`, { ...admin, timeout: 5_000 }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode === 200));
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}
