// A real Kubernetes control plane for the tests: etcd and kube-apiserver as scripts/build-kube.sh
// builds them, on 127.0.0.1 only, with a CA made at start (openssl: node:crypto makes no X.509),
// serving certificate, admin client certificate (system:masters), service-account signing key,
// RBAC and the default admission plugins. No controller-manager, scheduler or kubelet: a test plays
// the controllers it needs, so what it proves is the API server's own behaviour.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  makeControlPlaneCredentials,
  writeAdminKubeconfig,
} from "../../src/testbed/lifecycle/certificates.ts";

/** What a test worker needs to reach the control plane (plain data: it crosses to the workers). */
export interface ControlPlaneAccess {
  url: string;
  /** PEM of the CA that signed the serving and client certificates. */
  ca: string;
  /** A kubeconfig file for the admin (client certificate in system:masters). */
  kubeconfig: string;
  admin: { cert: string; key: string };
  /** Directory of the built programs (kubectl among them). */
  bin: string;
}

export interface ControlPlane extends ControlPlaneAccess {
  close(): Promise<void>;
}

const KUBE_BIN = new URL("../../.testbed/kube-bin", import.meta.url).pathname;
const PROGRAMS = ["etcd", "kube-apiserver", "kubectl"];
const READY_TIMEOUT_MS = 120_000;

/** Why the control plane cannot start here, or undefined when its programs are built. */
export function missingPrograms(bin = KUBE_BIN): string | undefined {
  const missing = PROGRAMS.filter((program) => !existsSync(join(bin, program)));
  return missing.length === 0
    ? undefined
    : `${missing.join(", ")} not built in ${bin}: run bash scripts/build-kube.sh (needs Go 1.26)`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no TCP port for the control plane");
  return address.port;
}

function startProgram(path: string, args: string[], log: string): ChildProcess {
  const child = spawn(path, args, { stdio: ["ignore", "pipe", "pipe"] });
  const out = createWriteStream(log);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Polls the API server's /readyz (as the admin) until it answers ok, or fails naming its log. */
async function waitReady(access: ControlPlaneAccess, processes: ChildProcess[], log: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const ready = () =>
    new Promise<boolean>((resolve) => {
      const req = request(
        `${access.url}/readyz`,
        { ca: access.ca, cert: access.admin.cert, key: access.admin.key, timeout: 5_000 },
        (response) => {
          response.resume();
          response.on("end", () => resolve(response.statusCode === 200));
        },
      );
      req.on("error", () => resolve(false));
      req.on("timeout", () => req.destroy());
      req.end();
    });
  while (!(await ready())) {
    const exited = processes.find((child) => child.exitCode !== null || child.signalCode !== null);
    if (exited || Date.now() > deadline) {
      const tail = (await readFile(log, "utf8").catch(() => "")).split("\n").slice(-20).join("\n");
      throw new Error(
        `the control plane ${exited ? `exited (${exited.spawnfile})` : `was not ready in ${READY_TIMEOUT_MS / 1000}s`}; ${log}:\n${tail}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function startControlPlane(bin = KUBE_BIN): Promise<ControlPlane> {
  const missing = missingPrograms(bin);
  if (missing) throw new Error(missing);
  const dir = await mkdtemp(join(tmpdir(), "aks-ipvlan-kube-"));
  await makeControlPlaneCredentials(dir, {
    subjectAltNames: ["IP:127.0.0.1", "DNS:localhost", "DNS:kubernetes.default.svc"],
  });
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = startProgram(
    join(bin, "etcd"),
    [
      "--name=test",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=test=${peerUrl}`,
      // The tests' data is thrown away: no fsync on a shared, loaded disk.
      "--unsafe-no-fsync",
      "--log-level=warn",
    ],
    join(dir, "etcd.log"),
  );
  const file = (name: string) => join(dir, name);
  const apiserver = startProgram(
    join(bin, "kube-apiserver"),
    [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${file("apiserver-certs")}`,
      `--tls-cert-file=${file("apiserver.crt")}`,
      `--tls-private-key-file=${file("apiserver.key")}`,
      `--client-ca-file=${file("ca.crt")}`,
      `--service-account-key-file=${file("sa.pub")}`,
      `--service-account-signing-key-file=${file("sa.key")}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--authorization-mode=Node,RBAC",
      // AKS's default service range; the agent DaemonSet is privileged, as on a cluster.
      "--service-cluster-ip-range=10.0.0.0/16",
      "--allow-privileged=true",
      "--profiling=false",
      // The kubernetes Service's endpoint would be 127.0.0.1, which the reconciler refuses; no pod
      // here reaches the API server through that Service.
      "--endpoint-reconciler-type=none",
    ],
    file("kube-apiserver.log"),
  );
  const processes = [etcd, apiserver];
  const ca = await readFile(file("ca.crt"), "utf8");
  const admin = {
    cert: await readFile(file("admin.crt"), "utf8"),
    key: await readFile(file("admin.key"), "utf8"),
  };
  const url = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = await writeAdminKubeconfig(dir, url);
  const access = { url, ca, kubeconfig, admin, bin };
  const close = async () => {
    await stop(apiserver);
    await stop(etcd);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(access, processes, file("kube-apiserver.log"));
  } catch (error) {
    await close();
    throw error;
  }
  return { ...access, close };
}
