// A network config as the Go plugins read it, so lint judges what they will use. Go's encoding/json
// matches an object key to a struct field case-insensitively (Unicode simple folding: "Mode", "MODE",
// "maſter" with U+017F) and lets a later key overwrite an earlier one; JSON.parse keeps both spellings
// apart. It also refuses nesting deeper than 10,000. libcni reads a conflist's own top level into a
// map (exact keys), and `capabilities`, `args` and `runtimeConfig` are maps too: those stay as written.

/** encoding/json's maxNestingDepth. */
const MAX_DEPTH = 10_000;

/** The struct fields lint reads (types.NetConf, ipvlan's, host-local's IPAMConfig, Range, Route). */
const FIELDS = [
  "cniVersion",
  "name",
  "type",
  "capabilities",
  "ipam",
  "dns",
  "master",
  "mode",
  "mtu",
  "linkInContainer",
  "dataDir",
  "ranges",
  "routes",
  "resolvConf",
  "subnet",
  "rangeStart",
  "rangeEnd",
  "gateway",
  "dst",
  "gw",
];
/** Objects whose keys Go reads into a map: matched exactly. */
const MAPS = new Set(["capabilities", "args", "runtimeConfig"]);

/** One spelling per Unicode simple-fold class, per code point (as bytes.EqualFold compares). */
function fold(text: string): string {
  return [...text]
    .map((char) => {
      const upper = char.toUpperCase();
      const lower = [...upper].length === 1 ? upper.toLowerCase() : char.toLowerCase();
      return [...lower].length === 1 ? lower : char;
    })
    .join("");
}

const FIELD_BY_FOLD = new Map(FIELDS.map((field) => [fold(field), field]));

/** JSON.parse, refusing what Go refuses, with object keys merged as Go's struct decoding merges them. */
export function parseLikeGo(text: string, topLevelIsMap: boolean): unknown {
  checkDepth(text);
  const value = JSON.parse(text) as unknown;
  return topLevelIsMap && isObject(value)
    ? Object.fromEntries(Object.entries(value).map(([key, item]) => [key, asGoReads(item, key)]))
    : asGoReads(value, "");
}

function asGoReads(value: unknown, key: string): unknown {
  if (Array.isArray(value)) return value.map((item) => asGoReads(item, ""));
  if (!isObject(value) || MAPS.has(key)) return value;
  const merged = new Map<string, [string, unknown]>();
  for (const [name, item] of Object.entries(value)) {
    const folded = fold(name);
    // A later key of the same fold replaces the earlier one, under the field's own spelling if known.
    merged.delete(folded);
    merged.set(folded, [FIELD_BY_FOLD.get(folded) ?? name, item]);
  }
  return Object.fromEntries([...merged.values()].map(([name, item]) => [name, asGoReads(item, name)]));
}

function checkDepth(text: string): void {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (char === "\\") index++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === "[" || char === "{") {
      if (++depth > MAX_DEPTH) {
        throw new SyntaxError(
          `nested deeper than ${MAX_DEPTH} levels, where Go's decoder (every plugin's) stops, in JSON at position ${index}`,
        );
      }
    } else if (char === "]" || char === "}") {
      depth--;
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
