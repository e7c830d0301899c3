// The seed's Troubleshooting section as rules: each turns gathered facts into findings with a fix.
// Pure: every rule sees the same facts, so the report is the same however they were gathered.
import type { ClusterFacts, NodeFacts } from "./facts.ts";
import type { AgentStatus } from "../agent/status.ts";

type Severity = "ok" | "warning" | "error" | "not checked";

export interface DoctorFinding {
  check: string;
  /** A node name, or "cluster". */
  subject: string;
  severity: Severity;
  message: string;
  fix?: string;
}

/** At this share of a node's addresses in use, the doctor warns. */
const ADDRESS_WARNING_RATIO = 0.9;

const AGENT_LOGS = "kubectl -n aks-ipvlan-system logs";

export function diagnose(facts: ClusterFacts): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  if (!facts.agentInstalled) {
    findings.push({
      check: "agent",
      subject: "cluster",
      severity: "error",
      message: "the agent DaemonSet is not installed",
      fix: "aks-ipvlan install --config FILE",
    });
  }
  for (const node of facts.nodes) findings.push(...nodeFindings(node, facts.agentInstalled));
  if (facts.overlay) findings.push(...overlayFindings(facts, facts.overlay.mtu));
  findings.push(coreDnsFinding(facts.coreDns), ...blockFindings(facts), ...routeFindings(facts));
  return findings;
}

export function hasErrors(findings: readonly DoctorFinding[]): boolean {
  return findings.some((finding) => finding.severity === "error");
}

function nodeFindings(node: NodeFacts, agentInstalled: boolean): DoctorFinding[] {
  const at = (check: string, severity: Severity, message: string, fix?: string): DoctorFinding => ({
    check,
    subject: node.name,
    severity,
    message,
    ...(fix ? { fix } : {}),
  });
  const findings: DoctorFinding[] = [];
  findings.push(
    node.blocks.length > 0
      ? at("node block", "ok", node.blocks.join(", "))
      : at(
          "node block",
          "error",
          "the node has no block (annotation aks-ipvlan.io/blocks): no pod on it can get an address",
          `${AGENT_LOGS} deploy/aks-ipvlan-controller; is the pod pool exhausted? (aks-ipvlan plan --config FILE)`,
        ),
  );
  if (!agentInstalled) return findings;
  const pod = node.agentPod;
  if (!pod) {
    findings.push(
      at(
        "agent pod",
        "error",
        "no agent pod on this node",
        "check the node's taints against the DaemonSet's tolerations: kubectl describe node " + node.name,
      ),
    );
    return findings;
  }
  if (pod.phase !== "Running" || !pod.ready) {
    findings.push(
      at(
        "agent pod",
        "error",
        `${pod.name} is ${pod.phase}${pod.ready ? "" : ", not ready"}${pod.problem ? ` (${pod.problem})` : ""}`,
        `kubectl -n aks-ipvlan-system describe pod ${pod.name}; ${AGENT_LOGS} ${pod.name}`,
      ),
    );
  } else {
    findings.push(at("agent pod", "ok", `${pod.name} running and ready`));
  }
  if (!node.status) return findings;
  if (!node.status.ok) {
    const reason = `cannot read the agent's /status: ${node.status.reason}`;
    return [
      ...findings,
      ...["conflist", "masquerade chain", "ip_forward", "host device", "addresses"].map((check) =>
        at(check, "not checked", reason),
      ),
    ];
  }
  return [...findings, ...statusFindings(node, node.status.value, at)];
}

function statusFindings(
  node: NodeFacts,
  status: AgentStatus,
  at: (check: string, severity: Severity, message: string, fix?: string) => DoctorFinding,
): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const logs = `${AGENT_LOGS} ${node.agentPod?.name ?? "-l app.kubernetes.io/name=aks-ipvlan-agent"}`;
  if (status.lastError)
    findings.push(at("agent", "error", `last reconcile failed: ${status.lastError}`, logs));
  if (status.waiting) findings.push(at("agent", "warning", `waiting: ${status.waiting}`, logs));

  const applied = [...(status.blocks ?? [])].sort().join(",");
  const annotated = [...node.blocks].sort().join(",");
  if (!status.conflist) {
    findings.push(at("conflist", "error", "no conflist written: the kubelet cannot start pods here", logs));
  } else if (applied !== annotated) {
    findings.push(
      at(
        "conflist",
        "error",
        `written for ${applied || "no block"}, but the node holds ${annotated || "no block"}`,
        `the agent picks up annotation changes by itself; if this persists: ${logs}`,
      ),
    );
  } else if (node.expectedConflistHash && node.expectedConflistHash !== status.conflist.hash) {
    findings.push(
      at(
        "conflist",
        "warning",
        "differs from what this spec renders for the node's block",
        "the cluster runs another spec: rerun aks-ipvlan install --config FILE with the spec you mean",
      ),
    );
  } else {
    findings.push(at("conflist", "ok", `${status.conflist.path} for ${applied}`));
  }

  const nat = status.chains?.nat ?? [];
  findings.push(
    nat.length > 0
      ? at("masquerade chain", "ok", `nat: ${nat.join(", ")}`)
      : at("masquerade chain", "error", "our nat chains are missing: pods cannot reach the internet", logs),
  );

  findings.push(
    String(status.ipForward) === "1"
      ? at("ip_forward", "ok", "net.ipv4.ip_forward = 1")
      : at(
          "ip_forward",
          "error",
          `net.ipv4.ip_forward = ${String(status.ipForward)}: same-node ClusterIP and cross-node NodePort fail`,
          `something on the node resets it; the agent sets it again on its next resync: ${logs}`,
        ),
  );

  findings.push(
    status.hostDevice
      ? at("host device", "ok", status.hostDevice)
      : at("host device", "error", "missing: kubelet probes and same-node services cannot reach pods", logs),
  );

  const addresses = status.addresses;
  if (!addresses) findings.push(at("addresses", "not checked", "the agent has not reconciled yet"));
  else {
    const ratio = addresses.capacity > 0 ? addresses.inUse / addresses.capacity : 1;
    const text = `${addresses.inUse}/${addresses.capacity} in use`;
    const fix = "add nodes, or raise maxBlocksPerNode / lower blockSize in the spec";
    if (addresses.inUse >= addresses.capacity) findings.push(at("addresses", "error", `${text}: full`, fix));
    else if (ratio >= ADDRESS_WARNING_RATIO)
      findings.push(at("addresses", "warning", `${text}: nearly full`, fix));
    else findings.push(at("addresses", "ok", text));
  }
  return findings;
}

/**
 * vxlan mode: each node's tunnel device (as its agent last reconciled it) reaches every other node that
 * has an address and a block, with the spec's pod MTU.
 */
function overlayFindings(facts: ClusterFacts, mtu: number): DoctorFinding[] {
  const reachable = facts.nodes.filter((node) => node.ip && node.blocks.length > 0);
  return facts.nodes.flatMap((node): DoctorFinding[] => {
    if (!node.status) return [];
    const at = (severity: Severity, message: string, fix?: string): DoctorFinding => ({
      check: "overlay",
      subject: node.name,
      severity,
      message,
      ...(fix ? { fix } : {}),
    });
    if (!node.status.ok) return [at("not checked", `cannot read the agent's /status: ${node.status.reason}`)];
    const logs = `${AGENT_LOGS} ${node.agentPod?.name ?? "-l app.kubernetes.io/name=aks-ipvlan-agent"}`;
    const overlay = node.status.value.overlay;
    if (!overlay) {
      return [
        at("error", "no tunnel device reported: pods on other nodes cannot reach this node's pods", logs),
      ];
    }
    const expected = reachable.filter((other) => other.name !== node.name).length;
    const found: DoctorFinding[] = [];
    if (overlay.peers !== expected) {
      found.push(
        at(
          "error",
          `${overlay.device} reaches ${overlay.peers} of the ${expected} other nodes with a block: pods there and here cannot reach each other`,
          `the agent follows Node changes and repairs at every resync; if this persists: ${logs}`,
        ),
      );
    }
    if (overlay.mtu !== mtu) {
      found.push(
        at(
          "error",
          `${overlay.device} has MTU ${overlay.mtu}, the spec's pod MTU is ${mtu}: full-size packets across nodes are dropped`,
          "the cluster runs another spec: rerun aks-ipvlan install --config FILE with the spec you mean",
        ),
      );
    }
    return found.length > 0
      ? found
      : [at("ok", `${overlay.device} reaches all ${expected} other nodes, MTU ${overlay.mtu}`)];
  });
}

function coreDnsFinding(coreDns: ClusterFacts["coreDns"]): DoctorFinding {
  const base = { check: "CoreDNS", subject: "cluster" };
  if (!coreDns.found) {
    return {
      ...base,
      severity: "warning",
      message: "no Deployment kube-system/coredns",
      fix: "is this an AKS cluster?",
    };
  }
  if (coreDns.ready) {
    return {
      ...base,
      severity: "ok",
      message: `ready (${coreDns.progress}); whether it reaches 168.63.129.16 is a verify check`,
    };
  }
  return {
    ...base,
    severity: "error",
    message: `not ready (${coreDns.progress}): pods started before pod networking worked stay broken`,
    fix: "kubectl -n kube-system rollout restart deployment coredns (aks-ipvlan install does this), then aks-ipvlan verify",
  };
}

function blockFindings(facts: ClusterFacts): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const holders = new Map<string, string[]>();
  for (const node of facts.nodes) {
    for (const block of node.blocks) holders.set(block, [...(holders.get(block) ?? []), node.name]);
  }
  for (const [block, nodes] of holders) {
    if (nodes.length > 1) {
      findings.push({
        check: "blocks",
        subject: "cluster",
        severity: "error",
        message: `${block} is annotated on ${nodes.join(" and ")}: their pods get the same addresses`,
        fix: "remove the annotation from all but one node; the controller re-plans the others",
      });
    }
  }
  const nodeNames = new Set(facts.nodes.map((node) => node.name));
  for (const [block, node] of facts.ledger ?? []) {
    if (!nodeNames.has(node)) {
      findings.push({
        check: "blocks",
        subject: "cluster",
        severity: "warning",
        message: `${block} is held for ${node}, which is no longer a node`,
        fix: "the controller releases it after controller.releaseGraceSeconds; nothing to do unless it stays",
      });
    }
  }
  if (findings.length === 0) {
    findings.push({
      check: "blocks",
      subject: "cluster",
      severity: "ok",
      message: "every block has one node",
    });
  }
  return findings;
}

function routeFindings(facts: ClusterFacts): DoctorFinding[] {
  const base = { check: "Azure routes", subject: "cluster" };
  if (!facts.routes.ok) return [{ ...base, severity: "not checked", message: facts.routes.reason }];
  const { put, remove } = facts.routes.value;
  const fix =
    "the controller corrects the table on its next sync: kubectl -n aks-ipvlan-system logs deploy/aks-ipvlan-controller";
  const findings: DoctorFinding[] = [
    ...put.map((route) => ({
      ...base,
      severity: "error" as const,
      message: `missing or wrong: ${route.name} ${route.addressPrefix} via ${route.nextHopIpAddress}; pods on other nodes cannot reach this block`,
      fix,
    })),
    ...remove.map((name) => ({
      ...base,
      severity: "warning" as const,
      message: `stale: ${name} routes a block no node holds`,
      fix,
    })),
  ];
  return findings.length > 0 ? findings : [{ ...base, severity: "ok", message: "every block has its route" }];
}
