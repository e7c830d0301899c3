// Least-privilege access: the agent reads nodes and pods (and, enforcing NetworkPolicy, policies and
// namespaces); the controller patches node annotations, counts pods, records events, and writes only
// its own Lease and block ledger in its own namespace.
// (RBAC cannot limit `create` by name, so create is granted on the kind, everything else by name.)
import type { IClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import type { IClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { AGENT_NAME, CONTROLLER_NAME, LEASE_NAME, LEDGER_NAME, NAMESPACE, metadataOf } from "./names.ts";

const RBAC = "rbac.authorization.k8s.io/v1";
const READ = ["get", "list", "watch"];

/** `policy`: the agent enforces NetworkPolicy, so it also reads policies and namespaces (labels). */
export function agentRbac(options: { policy?: boolean } = {}): [IClusterRole, IClusterRoleBinding] {
  return [
    {
      apiVersion: RBAC,
      kind: "ClusterRole",
      metadata: metadataOf(AGENT_NAME, false),
      rules: [
        { apiGroups: [""], resources: ["nodes"], verbs: READ },
        // Leak collection matches host-local reservations to the pod IPs on the agent's node; policy
        // selects peers by the labels of every pod.
        { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
        ...(options.policy
          ? [
              { apiGroups: [""], resources: ["namespaces"], verbs: ["list", "watch"] },
              { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["list", "watch"] },
            ]
          : []),
      ],
    },
    clusterBinding(AGENT_NAME),
  ];
}

export function controllerRbac(): [IClusterRole, IClusterRoleBinding, IRole, IRoleBinding] {
  return [
    {
      apiVersion: RBAC,
      kind: "ClusterRole",
      metadata: metadataOf(CONTROLLER_NAME, false),
      rules: [
        // patch: the blocks annotation; nothing else on the node is written.
        { apiGroups: [""], resources: ["nodes"], verbs: [...READ, "patch"] },
        // A node whose pods fill its blocks gets another (maxBlocksPerNode > 1).
        { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
        { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
      ],
    },
    clusterBinding(CONTROLLER_NAME),
    {
      apiVersion: RBAC,
      kind: "Role",
      metadata: metadataOf(CONTROLLER_NAME),
      rules: [
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
        {
          apiGroups: ["coordination.k8s.io"],
          resources: ["leases"],
          resourceNames: [LEASE_NAME],
          verbs: ["get", "update", "patch"],
        },
        { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
        { apiGroups: [""], resources: ["configmaps"], resourceNames: [LEDGER_NAME], verbs: ["get", "patch"] },
      ],
    },
    {
      apiVersion: RBAC,
      kind: "RoleBinding",
      metadata: metadataOf(CONTROLLER_NAME),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: CONTROLLER_NAME },
      subjects: [{ kind: "ServiceAccount", name: CONTROLLER_NAME, namespace: NAMESPACE }],
    },
  ];
}

function clusterBinding(name: string): IClusterRoleBinding {
  return {
    apiVersion: RBAC,
    kind: "ClusterRoleBinding",
    metadata: metadataOf(name, false),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
    subjects: [{ kind: "ServiceAccount", name, namespace: NAMESPACE }],
  };
}
