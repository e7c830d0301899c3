// Listen addresses, "a.b.c.d:port": the one reading of the agent's and the controller's --listen and
// of the spec's agent.listenAddress. IPv4 like the rest of the product, and the address is always
// written out: no empty host or bare port that would quietly mean every address (0.0.0.0 must be asked
// for by name; the defaults are loopback).
import { formatIp, parseIp } from "./cidr.ts";

export interface ListenAddress {
  host: string;
  port: number;
}

/** Port 0 asks the kernel for a free port (tests); callers whose peers must find the port refuse it. */
export function parseListen(text: string): ListenAddress {
  const match = /^([^:]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new Error(`"${text}" is not an IPv4 address and port (a.b.c.d:port)`);
  return { host: formatIp(parseIp(match[1]!)), port };
}

export function formatListen({ host, port }: ListenAddress): string {
  return `${host}:${port}`;
}
