// Zod types for the spec's values that reach rules, files and manifests. Each parses the text and
// outputs its one canonical spelling ("10.0.0.0/8", never " 10.0.0.0/8\n"), so renderers only ever
// see what was validated; a value that cannot be read unambiguously is refused with its fix.
import { z } from "zod";
import { formatCidr, formatIp, parseCidr, parseCidrOrIp, parseIp } from "../net/cidr.ts";
import { formatListen, parseListen } from "../net/listen.ts";

function fix(text: string) {
  return { params: { fix: text } };
}

/** Text parsed by `parse`, output as `format(parse(text))`; the parser's message names the problem. */
function canonicalBy<T>(parse: (text: string) => T, format: (value: T) => string, fixText: string) {
  return z.string().transform((text, ctx) => {
    try {
      return format(parse(text));
    } catch (error) {
      ctx.addIssue({
        code: "custom",
        message: (error as Error).message,
        input: text,
        params: { fix: fixText },
      });
      return z.NEVER;
    }
  });
}

/** Surrounding whitespace (a YAML block scalar's newline) is dropped; inside a value it is an error. */
export const cidr = canonicalBy(
  parseCidr,
  formatCidr,
  "write it as a.b.c.d/n with the host part zero, e.g. 10.224.0.0/16",
).meta({ format: "ipv4-cidr" });

export const ip = canonicalBy(
  (text) => parseIp(text.trim()),
  formatIp,
  "write it as a.b.c.d, e.g. 10.224.0.4",
).meta({ format: "ipv4" });

export const cidrOrIp = canonicalBy(
  (text) => parseCidrOrIp(text.trim()),
  formatCidr,
  "write a.b.c.d or a.b.c.d/n",
);

/** A string matching `pattern`; a refinement (not .regex) so the issue carries its fix, with the
 * pattern kept in the generated JSON Schema for editors. */
export function matching(pattern: RegExp, message: string, fixText: string) {
  return z
    .string()
    .refine((text) => pattern.test(text), { message, ...fix(fixText) })
    .meta({ pattern: pattern.source });
}

/**
 * Interfaces the agent creates on every node (src/hostpath/desired.ts HOST_DEVICE; a test keeps the two
 * equal): as the master, the agent would delete and recreate the very device the pods hang off.
 */
export const OWN_INTERFACES: readonly string[] = ["ipvl-host"];

/** Linux's rule (dev_valid_name): 1-15 bytes, no '/', ':' or whitespace, not "." or ".."; not ours. */
export const interfaceName = matching(
  /^(?!\.{1,2}$)[a-zA-Z0-9_.-]{1,15}$/,
  "not a Linux interface name",
  "use the node NIC's name, e.g. eth0",
).refine((name) => !OWN_INTERFACES.includes(name), {
  message: "is the agent's own host device, not a NIC: the agent would delete it and take pods down",
  ...fix("use the node NIC's name, e.g. eth0"),
});

/** The distribution reference grammar (github.com/distribution/reference), its parts. */
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::(?<port>[0-9]+))?`;
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "sha256:[a-f0-9]{64}";
const IMAGE_REFERENCE = new RegExp(
  `^(?<name>(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::${TAG})?(?:@${DIGEST})?$`,
);

/**
 * An OCI image reference (registry/path[:tag][@digest]) as the distribution grammar spells it: no
 * empty or dot-only component ("../x"), a registry port from 1 to 65535, a name of at most 255
 * characters; no whitespace or control characters can reach the manifests.
 */
export const image = z
  .string()
  .refine(
    (text) => {
      const groups = IMAGE_REFERENCE.exec(text)?.groups;
      if (!groups || groups.name!.length > 255) return false;
      return groups.port === undefined || (Number(groups.port) >= 1 && Number(groups.port) <= 65535);
    },
    {
      message: "not an image reference (the OCI distribution grammar)",
      ...fix(
        "write REGISTRY[:PORT]/REPOSITORY[:TAG][@sha256:DIGEST], e.g. ghcr.io/aks-ipvlan/aks-ipvlan:0.1.0",
      ),
    },
  )
  .meta({ pattern: IMAGE_REFERENCE.source });

/** IPv4:port, canonical ("127.0.0.1:9464"); port 0 (any free port) would leave the probes nowhere. */
export const listenAddress = canonicalBy(
  (text) => {
    const address = parseListen(text.trim());
    if (address.port === 0) throw new Error("port 0 picks a random port the probes cannot find");
    return address;
  },
  formatListen,
  "write it as a.b.c.d:port, e.g. 127.0.0.1:9464 (kubelet probes reach it on the host network)",
);

export const uuid = matching(
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  "not a GUID",
  "copy it from the Azure portal or `az account show`, e.g. 00000000-0000-0000-0000-000000000000",
);

/** Azure's rules for resource group names (1-90 of letters, digits, _-.(), not ending in '.'). */
export const resourceGroup = matching(
  /^[-\w.()]{0,89}[-\w()]$/,
  "not an Azure resource group name",
  "use the resource group's name as `az group list` shows it",
);

/** Azure's rules for route table names (1-80, letters, digits, _-., starting alphanumeric, not ending in '.' or '-'). */
export const azureName = matching(
  /^[a-zA-Z0-9](?:[\w.-]{0,78}\w)?$/,
  "not an Azure resource name",
  "use the route table's name as `az network route-table list` shows it",
);
