// Names shared by the manifests, the install command and the image: one place for each of them.

export const NAMESPACE = "aks-ipvlan-system";
export const AGENT_NAME = "aks-ipvlan-agent";
export const CONTROLLER_NAME = "aks-ipvlan-controller";
export const CONFIG_MAP_NAME = "aks-ipvlan-config";
/** The controller's record of which node holds which block (claims are written here first). */
export const LEDGER_NAME = "aks-ipvlan-blocks";
/**
 * The Lease the controller replicas elect their leader with (named after the controller).
 * @alias
 */
export const LEASE_NAME = CONTROLLER_NAME;
/** The ConfigMap key holding the cluster spec, and the file name it is mounted as. */
export const CONFIG_KEY = "cluster.yaml";
export const CONFIG_DIR = "/etc/aks-ipvlan";
export const CONFIG_PATH = `${CONFIG_DIR}/${CONFIG_KEY}`;

export const CNI_CONF_DIR = "/etc/cni/net.d";
export const CNI_BIN_DIR = "/opt/cni/bin";
/** tmpfs on the node; holds the IPAM data directory, so reservations never outlive a reboot. */
export const RUN_DIR = "/run/aks-ipvlan";
export const XTABLES_LOCK = "/run/xtables.lock";
export const LIB_MODULES = "/lib/modules";
/** Where the image carries the CNI plugins install-cni copies to the node. */
export const IMAGE_CNI_BIN_DIR = "/opt/aks-ipvlan/cni-bin";
/** Where install-cni sees the node's CNI_BIN_DIR. */
export const HOST_CNI_BIN_MOUNT = "/host/opt/cni/bin";
/** The image's entry point: the built CLI. */
export const ENTRYPOINT = ["node", "/app/dist/cli/main.js"] as const;

const NAME_LABEL = "app.kubernetes.io/name";
const PART_OF_LABEL = "app.kubernetes.io/part-of";
const PART_OF = "aks-ipvlan";

export function labelsOf(name: string): Record<string, string> {
  return { [NAME_LABEL]: name, [PART_OF_LABEL]: PART_OF };
}

/** Metadata of one of our objects; `namespaced` puts it in NAMESPACE. */
export function metadataOf(name: string, namespaced = true) {
  return { name, ...(namespaced ? { namespace: NAMESPACE } : {}), labels: labelsOf(name) };
}
