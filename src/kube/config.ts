// Where every command finds its cluster: --kubeconfig, --context and KUBECONFIG, as kubectl does;
// inside a pod, the service account. Each kubeconfig is read with a size and time bound (a FIFO or
// /dev/zero cannot hang or fill the command), every request has a deadline, and a missing, unreadable
// or unusable kubeconfig is bad input (exit 2) with its fix, never client-node's silent fallback to
// http://localhost:8080.
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { existsSync } from "node:fs";
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";
import { UserError } from "../errors/user-error.ts";
import { readBounded } from "../sys/read-bounded.ts";
import { getGlobalDispatcher } from "undici";
import { ClusterUnreachableError } from "./errors.ts";
import { API_REQUEST_TIMEOUT_MS, MAX_BODY_BYTES } from "./bounds.ts";
import { boundedBody } from "./bounded-body.ts";

export interface KubeTarget {
  kubeconfig?: string;
  context?: string;
}

/** Far above any real kubeconfig (a few KiB; embedded certificates add a few more). */
const MAX_KUBECONFIG_BYTES = 4 * 1024 * 1024;
/**
 * client-node's KubeConfig with a deadline and a size bound on every API request but watches, whose
 * streams stay open and grow (client-node's Watch passes its own signal and ignores the context's).
 */
class DeadlineKubeConfig extends KubeConfig {
  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    if (context.getSignal() || isWatch(context.getUrl())) return;
    const server = this.getCurrentCluster()?.server ?? "the API server";
    context.setDispatcher(
      boundedBody(context.getDispatcher() ?? getGlobalDispatcher(), MAX_BODY_BYTES, server),
    );
    // Aborted with our own error (AbortSignal.timeout's DOMException has a read-only message that
    // client-node then fails to prefix): unreachable, exit 3, naming the server.
    const controller = new AbortController();
    setTimeout(
      () =>
        controller.abort(
          new ClusterUnreachableError(`${server} did not answer within ${API_REQUEST_TIMEOUT_MS / 1000} s`),
        ),
      API_REQUEST_TIMEOUT_MS,
    ).unref();
    context.setSignal(controller.signal);
  }
}

function isWatch(url: string): boolean {
  return new URL(url).searchParams.get("watch") === "true";
}

/** The kubeconfig files kubectl would read, and the flag or variable that named them. */
function kubeconfigFiles(target: KubeTarget): { source: string; files: string[] } {
  if (target.kubeconfig !== undefined) return { source: "--kubeconfig", files: [target.kubeconfig] };
  const listed = (process.env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  if (listed.length > 0) return { source: "KUBECONFIG", files: listed };
  const home = join(homedir(), ".kube", "config");
  return { source: "~/.kube/config", files: existsSync(home) ? [home] : [] };
}

function noCluster(source: string, value: string | undefined, message: string): UserError {
  return new UserError([
    {
      path: source,
      ...(value === undefined ? {} : { value }),
      message,
      fix: "pass --kubeconfig FILE or set KUBECONFIG (az aks get-credentials writes one)",
    },
  ]);
}

function parsedFile(source: string, file: string): KubeConfig {
  let text: string;
  try {
    text = readBounded(file, { maxBytes: MAX_KUBECONFIG_BYTES });
  } catch (error) {
    throw noCluster(source, file, `cannot read the kubeconfig: ${(error as Error).message}`);
  }
  const config = new DeadlineKubeConfig();
  try {
    config.loadFromString(text);
  } catch (error) {
    throw noCluster(source, file, `not a kubeconfig: ${(error as Error).message.split("\n")[0]}`);
  }
  return config;
}

function loadConfig(target: KubeTarget): { config: KubeConfig; source: string; value?: string } {
  const { source, files } = kubeconfigFiles(target);
  if (files.length === 0) {
    const config = new DeadlineKubeConfig();
    if (process.env.KUBERNETES_SERVICE_HOST) {
      config.loadFromCluster();
      return { config, source: "the pod's service account" };
    }
    throw noCluster(
      "--kubeconfig",
      undefined,
      "no kubeconfig: KUBECONFIG is unset and ~/.kube/config does not exist",
    );
  }
  const [first, ...rest] = files.map((file) => parsedFile(source, file));
  for (const extra of rest) first!.mergeConfig(extra);
  return { config: first!, source, value: files.join(delimiter) };
}

export function loadKubeConfig(target: KubeTarget = {}): KubeConfig {
  const { config, source, value } = loadConfig(target);
  if (target.context) {
    if (!config.getContextObject(target.context)) {
      throw new UserError([
        {
          path: "--context",
          value: target.context,
          message: "no such context in the kubeconfig",
          fix: `use one of: ${
            config
              .getContexts()
              .map((c) => c.name)
              .join(", ") || "(none)"
          }`,
        },
      ]);
    }
    config.setCurrentContext(target.context);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster) throw noCluster(source, value, "no cluster found in the kubeconfig");
  if (!/^https?:\/\/[^/]/.test(cluster.server)) {
    throw noCluster(
      source,
      value,
      `the cluster's server ${JSON.stringify(cluster.server)} is not an https:// (or http://) address`,
    );
  }
  return config;
}
