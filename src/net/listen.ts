// Listen addresses, "a.b.c.d:port": the one reading of the agent's and the controller's --listen and
// of the spec's agent.listenAddress. IPv4 like the rest of the product, and the address is always
// written out: no empty host or bare port that would quietly mean every address (0.0.0.0 must be asked
// for by name; the defaults are loopback).
import { formatIp, parseIp } from "./cidr.ts";

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Port 0 asks the kernel for a free port (tests); callers whose peers must find the port refuse it.
 * The host is one unicast address of the node or 0.0.0.0 (every address): a multicast, broadcast or
 * reserved address (224.0.0.0/4, 240.0.0.0/4 with 255.255.255.255) or another of 0.0.0.0/8 is no
 * address a probe can connect to.
 */
export function parseListen(text: string): ListenAddress {
  const match = /^([^:]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new Error(`"${text}" is not an IPv4 address and port (a.b.c.d:port)`);
  const address = parseIp(match[1]!);
  const firstOctet = address >>> 24;
  if (firstOctet >= 224 || (firstOctet === 0 && address !== 0)) {
    throw new Error(`"${text}" is not a unicast address (multicast, broadcast or reserved)`);
  }
  return { host: formatIp(address), port };
}

export function formatListen({ host, port }: ListenAddress): string {
  return `${host}:${port}`;
}
