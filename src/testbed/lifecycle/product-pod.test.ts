import { describe, expect, it } from "vitest";
import type { V1Pod, V1PodSpec } from "@kubernetes/client-node";
import { agentDaemonSet } from "../../manifests/agent.ts";
import { controllerDeployment } from "../../manifests/controller.ts";
import { validateSpec } from "../../spec/load.ts";
import { productContainer, productProcess } from "./product-pod.ts";
import { LIFECYCLE_SPEC } from "./host.ts";

const node = {
  name: "node2",
  paths: { confDir: "/run/n2/net.d", ipamDataDir: "/run/n2/ipam", cniBinDir: "/usr/lib/cni" },
};
const files = {
  cli: "/cli.mjs",
  node: "/bin/node",
  spec: "/run/n2/pod/cluster.yaml",
  kubeconfig: "/run/n2/kc",
};

/** A pod of the rendered workload `kind`, as the workload controller makes it. */
function renderedPod(kind: "DaemonSet" | "Deployment"): V1Pod {
  const spec = validateSpec(LIFECYCLE_SPEC);
  const workload = kind === "DaemonSet" ? agentDaemonSet(spec) : controllerDeployment(spec);
  const { name = "", namespace = "" } = workload.metadata ?? {};
  // As the emulator reads it: through the API, in JSON.
  const podSpec: V1PodSpec = JSON.parse(JSON.stringify(workload.spec?.template.spec));
  return { metadata: { name: `${name}-node2`, namespace }, spec: podSpec };
}

describe("the product's pods on an emulated node", () => {
  it("runs the rendered agent with its args, the spec file and the node's paths, NODE_NAME from spec.nodeName", () => {
    const pod = renderedPod("DaemonSet");
    const container = productContainer(pod)!;
    const { argv, env } = productProcess(pod, container, node, files);
    expect(argv).toEqual([
      "/bin/node",
      "/cli.mjs",
      "agent",
      "--config",
      files.spec,
      "--cni-conf-dir",
      "/run/n2/net.d",
      "--cni-bin-dir",
      "/usr/lib/cni",
      "--ipam-data-dir",
      "/run/n2/ipam",
    ]);
    expect(env).toMatchObject({ NODE_NAME: "node2", KUBECONFIG: files.kubeconfig });
  });

  it("runs the rendered controller with its own args only, POD_NAME and POD_NAMESPACE from the pod", () => {
    const pod = renderedPod("Deployment");
    const { argv, env } = productProcess(pod, productContainer(pod)!, node, files);
    expect(argv).toEqual(["/bin/node", "/cli.mjs", "controller", "--config", files.spec]);
    expect(env).toMatchObject({
      POD_NAME: "aks-ipvlan-controller-node2",
      POD_NAMESPACE: "aks-ipvlan-system",
    });
  });

  it("leaves a workload pod (another command, or not on the host network) to the sandbox runtime", () => {
    const agent = renderedPod("DaemonSet");
    expect(productContainer({ ...agent, spec: { ...agent.spec!, hostNetwork: false } })).toBeUndefined();
    expect(productContainer({ spec: { containers: [{ name: "web", image: "busybox" }] } })).toBeUndefined();
  });

  it("refuses an env field it cannot resolve, naming the variable", () => {
    const pod = renderedPod("DaemonSet");
    const container = productContainer(pod)!;
    const odd = {
      ...container,
      env: [{ name: "HOST_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } }],
    };
    expect(() => productProcess(pod, odd, node, files)).toThrow(/HOST_IP/);
  });
});
