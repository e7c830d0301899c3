// The kinds the in-test API server serves, with their REST resource names (part of the in-test API server).
export interface KindInfo {
  group: string;
  version: string;
  apiVersion: string;
  kind: string;
  resource: string;
  namespaced: boolean;
  hasStatus: boolean;
}

function kind(
  apiVersion: string,
  name: string,
  resource: string,
  namespaced: boolean,
  hasStatus = false,
): KindInfo {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  return { group: group!, version: version!, apiVersion, kind: name, resource, namespaced, hasStatus };
}

export const KINDS: KindInfo[] = [
  kind("v1", "Namespace", "namespaces", false, true),
  kind("v1", "Node", "nodes", false, true),
  kind("v1", "Pod", "pods", true, true),
  kind("v1", "Service", "services", true, true),
  kind("v1", "ConfigMap", "configmaps", true),
  kind("v1", "ServiceAccount", "serviceaccounts", true),
  kind("v1", "Event", "events", true),
  kind("apps/v1", "DaemonSet", "daemonsets", true, true),
  kind("apps/v1", "Deployment", "deployments", true, true),
  kind("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false),
  kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", false),
  kind("rbac.authorization.k8s.io/v1", "Role", "roles", true),
  kind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true),
  kind("coordination.k8s.io/v1", "Lease", "leases", true),
  kind("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", true),
  kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true),
  kind("events.k8s.io/v1", "Event", "events", true),
];

export function findKind(apiVersion: string, name: string): KindInfo {
  const found = KINDS.find((k) => k.apiVersion === apiVersion && k.kind === name);
  if (!found) throw new Error(`the in-test API server does not serve ${apiVersion} ${name}`);
  return found;
}
