// RBAC authorization as kube-apiserver's RBAC authorizer decides it (part of the in-test API server):
// a service account may do what the ClusterRoles bound to it cluster-wide and the Roles (or ClusterRoles)
// bound to it in the request's namespace allow. Rules match on API group, resource (with subresource),
// verb and, when given, resource names — which never match create, list or watch, as in Kubernetes.
import type { JsonObject } from "./patch.ts";

export interface RequestAttributes {
  user: string;
  verb: string;
  apiGroup: string;
  /** "nodes", or "nodes/status" for a subresource. */
  resource: string;
  name: string | undefined;
  namespace: string | undefined;
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

interface Binding {
  roleRef: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
  metadata: { namespace?: string };
}

export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

export function verbOf(method: string, hasName: boolean, watch: boolean): string {
  if (method === "GET") return watch ? "watch" : hasName ? "get" : "list";
  return { POST: "create", PUT: "update", PATCH: "patch", DELETE: "delete" }[method] ?? method.toLowerCase();
}

/** `objects`: every Role, ClusterRole, RoleBinding and ClusterRoleBinding the server stores. */
export function isAllowed(objects: JsonObject[], request: RequestAttributes): boolean {
  const roles = (kind: string, namespace?: string) => (name: string) =>
    objects.find(
      (o) =>
        o.kind === kind &&
        (o.metadata as JsonObject).name === name &&
        (kind === "ClusterRole" || (o.metadata as JsonObject).namespace === namespace),
    );
  const boundTo = (binding: Binding) =>
    (binding.subjects ?? []).some(
      (s) => s.kind === "ServiceAccount" && serviceAccountUser(s.namespace ?? "", s.name) === request.user,
    );
  const rules: PolicyRule[] = [];
  for (const object of objects) {
    const binding = object as unknown as Binding;
    if (object.kind === "ClusterRoleBinding" && boundTo(binding)) {
      rules.push(...rulesOf(roles("ClusterRole")(binding.roleRef.name)));
    }
    if (
      object.kind === "RoleBinding" &&
      binding.metadata.namespace === request.namespace &&
      boundTo(binding)
    ) {
      rules.push(...rulesOf(roles(binding.roleRef.kind, request.namespace)(binding.roleRef.name)));
    }
  }
  return rules.some((rule) => matches(rule, request));
}

function rulesOf(role: JsonObject | undefined): PolicyRule[] {
  return (role?.rules as PolicyRule[] | undefined) ?? [];
}

function matches(rule: PolicyRule, request: RequestAttributes): boolean {
  const has = (list: string[] | undefined, value: string) =>
    !!list && (list.includes("*") || list.includes(value));
  if (!has(rule.apiGroups, request.apiGroup) || !has(rule.resources, request.resource)) return false;
  if (!has(rule.verbs, request.verb)) return false;
  if (!rule.resourceNames || rule.resourceNames.length === 0) return true;
  return request.name !== undefined && rule.resourceNames.includes(request.name);
}
