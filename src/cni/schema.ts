// The CNI network configuration in the spec's own vocabulary (NetConfList, NetConf, host-local's
// IPAMConfig and Range), as zod schemas: the conflist renderer builds these types, the runtime parses
// a file with them before running a plugin, and lint parses with them before its rules look inside.
// Objects stay open (plugins carry their own keys); only the fields CNI and host-local define are typed.
import { z } from "zod";

/** libcni's ValidateNetworkName: the name becomes part of file and chain names. */
export const NETWORK_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const RouteSchema = z.looseObject({ dst: z.string(), gw: z.string().optional() });

/** One host-local range: `subnet`, optionally narrowed by rangeStart/rangeEnd, with its gateway. */
const RangeSchema = z.looseObject({
  subnet: z.string(),
  rangeStart: z.string().optional(),
  rangeEnd: z.string().optional(),
  gateway: z.string().optional(),
});

/** host-local's IPAMConfig: `ranges` is a list of range sets (one address per set per pod). */
const IpamSchema = z.looseObject({
  type: z.string().min(1),
  dataDir: z.string().optional(),
  ranges: z.array(z.array(RangeSchema)).optional(),
  routes: z.array(RouteSchema).optional(),
  // The pre-"ranges" form: one range's fields directly in ipam.
  subnet: z.string().optional(),
  rangeStart: z.string().optional(),
  rangeEnd: z.string().optional(),
  gateway: z.string().optional(),
});

/** One plugin's configuration (NetConf without the list's name and version). */
const PluginConfSchema = z.looseObject({
  type: z.string().min(1),
  capabilities: z.record(z.string(), z.boolean()).optional(),
  ipam: IpamSchema.optional(),
  // ipvlan's own fields.
  master: z.string().optional(),
  mode: z.string().optional(),
  mtu: z.number().int().optional(),
});

/** A .conflist file (libcni's NetworkConfigList); libcni refuses one without plugins. */
export const NetConfListSchema = z.looseObject({
  cniVersion: z.string(),
  name: z.string(),
  disableCheck: z.boolean().optional(),
  plugins: z.array(PluginConfSchema).min(1, { message: "no plugins in the list: libcni refuses it" }),
});

/** A .conf file: one plugin with the network's name and version. */
export const NetConfSchema = PluginConfSchema.extend({ cniVersion: z.string(), name: z.string() });

export type HostLocalRange = z.infer<typeof RangeSchema>;
export type IpamConf = z.infer<typeof IpamSchema>;
export type PluginConf = z.infer<typeof PluginConfSchema>;
export type Conflist = z.infer<typeof NetConfListSchema>;

/** A .conf file read as the one-plugin list libcni makes of it (ConfListFromConf). */
export function asConflist(conf: z.infer<typeof NetConfSchema>): Conflist {
  const { name, cniVersion, ...plugin } = conf;
  return { name, cniVersion, plugins: [plugin as PluginConf] };
}
