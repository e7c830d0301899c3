// `demo --nodes N`: the spec with N nodes named node1..N at the node subnet's addresses .4 upwards
// (Azure keeps .0-.3 of every subnet), each taking the lowest free block.
import type { ClusterSpec } from "../spec/schema.ts";
import { UserError } from "../errors/user-error.ts";
import { formatIp, parseCidr, size } from "../net/cidr.ts";
import { validateSpec } from "../spec/load.ts";

const FIRST_HOST = 4;
const MAX_NODES = 32;

export function withNodes(spec: ClusterSpec, count: number): ClusterSpec {
  const subnet = parseCidr(spec.nodeSubnet);
  if (!Number.isInteger(count) || count < 1 || count > MAX_NODES || FIRST_HOST + count >= size(subnet)) {
    throw new UserError([
      {
        path: "--nodes",
        value: count,
        message: `not a node count the testbed can run in ${spec.nodeSubnet}`,
        fix: `pass a whole number from 1 to ${MAX_NODES}`,
      },
    ]);
  }
  const nodes = Array.from({ length: count }, (_, index) => ({
    name: `node${index + 1}`,
    ip: formatIp(subnet.base + FIRST_HOST + index),
  }));
  return validateSpec({ ...spec, nodes });
}
