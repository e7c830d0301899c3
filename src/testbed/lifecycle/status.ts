// What the emulated kubelet reports, as pure functions: a Node's status (its InternalIP, Ready) and a
// pod's (Running with its IP and readiness, or finished with its exit code), in the API's types.
import type { V1NodeStatus, V1PodCondition, V1PodStatus } from "@kubernetes/client-node";

export function nodeStatus(ip: string, name: string, networkReady: boolean, now: Date): V1NodeStatus {
  return {
    addresses: [
      { type: "InternalIP", address: ip },
      { type: "Hostname", address: name },
    ],
    conditions: [
      {
        type: "Ready",
        ...(networkReady
          ? { status: "True", reason: "KubeletReady", message: "the node emulator is posting ready status" }
          : {
              status: "False",
              reason: "KubeletNotReady",
              message: "container runtime network not ready: NetworkPluginNotReady: no CNI configuration",
            }),
        lastHeartbeatTime: now,
        lastTransitionTime: now,
      },
    ],
    nodeInfo: {
      architecture: "amd64",
      bootID: "",
      containerRuntimeVersion: "emulated://0",
      kernelVersion: "",
      kubeProxyVersion: "",
      kubeletVersion: "emulated",
      machineID: "",
      operatingSystem: "linux",
      osImage: "emulated AKS node",
      systemUUID: "",
    },
  };
}

export type PodRun =
  | { state: "running"; podIp: string; hostIp: string; ready: boolean; started: Date }
  | { state: "finished"; hostIp: string; exitCode: number; started: Date; finished: Date };

export function podStatus(containers: readonly string[], run: PodRun, now: Date): V1PodStatus {
  const ready = run.state === "running" && run.ready;
  const condition = (type: string, status: boolean): V1PodCondition => ({
    type,
    status: status ? "True" : "False",
    lastTransitionTime: now,
  });
  const base = {
    hostIP: run.hostIp,
    hostIPs: [{ ip: run.hostIp }],
    startTime: run.started,
    conditions: [
      condition("PodScheduled", true),
      condition("Initialized", true),
      condition("ContainersReady", ready),
      condition("Ready", ready),
    ],
  };
  if (run.state === "finished") {
    return {
      ...base,
      phase: run.exitCode === 0 ? "Succeeded" : "Failed",
      containerStatuses: containers.map((name) => ({
        name,
        image: "emulated",
        imageID: "",
        ready: false,
        restartCount: 0,
        state: { terminated: { exitCode: run.exitCode, startedAt: run.started, finishedAt: run.finished } },
      })),
    };
  }
  return {
    ...base,
    phase: "Running",
    podIP: run.podIp,
    podIPs: [{ ip: run.podIp }],
    containerStatuses: containers.map((name) => ({
      name,
      image: "emulated",
      imageID: "",
      ready,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: run.started } },
    })),
  };
}
