// Where the node agent finds its API server, in client-node's order (KUBECONFIG, ~/.kube/config, the
// pod's service account) without loading client-node: a kubeconfig's server, CA, token or client
// certificate; in a pod, KUBERNETES_SERVICE_HOST/PORT with the mounted token (read per request, so a
// rotated token is used) and CA.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, resolve } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { UserError } from "../errors/user-error.ts";
import type { RestConfig } from "./rest-client.ts";
import { readBounded } from "../sys/read-bounded.ts";

/** A kubeconfig, CA bundle or token is a few KiB; anything past this is not one. */
const MAX_CREDENTIAL_BYTES = 4 * 1024 * 1024;

/** Every file the client reads, bounded in size and time (a FIFO or /dev/zero cannot hang the agent). */
async function readCredential(path: string): Promise<string> {
  return readBounded(path, { maxBytes: MAX_CREDENTIAL_BYTES });
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

const kubeconfigSchema = z.object({
  "current-context": z.string().optional(),
  contexts: z
    .array(z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string() }) }))
    .optional(),
  clusters: z
    .array(
      z.object({
        name: z.string(),
        cluster: z.object({
          server: z.string(),
          "certificate-authority": z.string().optional(),
          "certificate-authority-data": z.string().optional(),
          "insecure-skip-tls-verify": z.boolean().optional(),
        }),
      }),
    )
    .optional(),
  users: z
    .array(
      z.object({
        name: z.string(),
        user: z.looseObject({
          token: z.string().optional(),
          tokenFile: z.string().optional(),
          "client-certificate": z.string().optional(),
          "client-certificate-data": z.string().optional(),
          "client-key": z.string().optional(),
          "client-key-data": z.string().optional(),
        }),
      }),
    )
    .optional(),
});

export async function agentRestConfig(env: NodeJS.ProcessEnv = process.env): Promise<RestConfig> {
  const kubeconfig = env.KUBECONFIG?.split(":").find(Boolean);
  if (kubeconfig) return restConfigFromKubeconfig(kubeconfig);
  const home = resolve(homedir(), ".kube/config");
  if (existsSync(home)) return restConfigFromKubeconfig(home);
  if (env.KUBERNETES_SERVICE_HOST) return inClusterRestConfig(env);
  throw new UserError([
    {
      path: "--kube",
      message: "no kubeconfig and not in a pod (KUBERNETES_SERVICE_HOST is unset)",
      fix: "run the agent in its DaemonSet, or set KUBECONFIG",
    },
  ]);
}

export async function inClusterRestConfig(
  env: NodeJS.ProcessEnv = process.env,
  directory = SERVICE_ACCOUNT_DIR,
): Promise<RestConfig> {
  const host = env.KUBERNETES_SERVICE_HOST ?? "";
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    ca: await readCredential(`${directory}/ca.crt`),
    token: async () => (await readCredential(`${directory}/token`)).trim(),
  };
}

export async function restConfigFromKubeconfig(file: string): Promise<RestConfig> {
  const bad = (message: string, fix: string): never => {
    throw new UserError([{ path: "KUBECONFIG", value: file, message, fix }]);
  };
  let document: unknown;
  try {
    document = parse(await readCredential(file));
  } catch (error) {
    return bad(`cannot read the kubeconfig: ${(error as Error).message.split("\n")[0]}`, "check the file");
  }
  const parsed = kubeconfigSchema.safeParse(document);
  if (!parsed.success) return bad(`not a kubeconfig: ${parsed.error.issues[0]?.message}`, "check the file");
  const config = parsed.data;
  const context = config.contexts?.find((entry) => entry.name === config["current-context"])?.context;
  if (!context) return bad("no current context", "set current-context to one of its contexts");
  const cluster = config.clusters?.find((entry) => entry.name === context.cluster)?.cluster;
  const user = config.users?.find((entry) => entry.name === context.user)?.user ?? {};
  if (!cluster) return bad(`no cluster named ${context.cluster}`, "list it under clusters");
  const unsupported = Object.keys(user).find((key) => key === "exec" || key === "auth-provider");
  if (unsupported) {
    return bad(
      `the agent's client does not run ${unsupported} credential plugins`,
      "use a kubeconfig with a token or a client certificate (the DaemonSet uses its service account)",
    );
  }
  // Relative file paths in a kubeconfig are relative to the kubeconfig, as kubectl reads them.
  const fileOrData = async (path: string | undefined, data: string | undefined) =>
    data !== undefined
      ? Buffer.from(data, "base64").toString("utf8")
      : path !== undefined
        ? readCredential(resolve(dirname(file), path))
        : undefined;
  const ca = await fileOrData(cluster["certificate-authority"], cluster["certificate-authority-data"]);
  const cert = await fileOrData(user["client-certificate"], user["client-certificate-data"]);
  const key = await fileOrData(user["client-key"], user["client-key-data"]);
  const { token, tokenFile } = user;
  return {
    server: cluster.server,
    ...(ca ? { ca } : {}),
    ...(cluster["insecure-skip-tls-verify"] ? { insecureSkipTlsVerify: true } : {}),
    ...(cert && key ? { clientCertificate: { cert, key } } : {}),
    ...(token !== undefined
      ? { token: async () => token }
      : tokenFile !== undefined
        ? { token: async () => (await readCredential(resolve(dirname(file), tokenFile))).trim() }
        : {}),
  };
}
