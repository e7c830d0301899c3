// IPv4 addresses and CIDR blocks as unsigned 32-bit integers.
// ipaddr.js parses and validates text; block arithmetic (carving, overlap, iteration) is done on
// integers because the library has no range arithmetic and the planner must carve 5,000+ blocks fast.
import ipaddr from "ipaddr.js";

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  readonly base: number;
  readonly prefix: number;
}

export function isIPv4(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

export function parseIp(text: string): number {
  if (!isIPv4(text)) throw new Error(`"${text}" is not an IPv4 address (a.b.c.d)`);
  const bytes = ipaddr.IPv4.parse(text).toByteArray();
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

export function formatIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
}

/** Parses "a.b.c.d/n"; a host part that is not zero is an error, because it is almost always a typo. */
export function parseCidr(text: string): Cidr {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!match || !isIPv4(match[1]!) || Number(match[2]) > 32) {
    throw new Error(`"${text}" is not an IPv4 CIDR (a.b.c.d/n with n from 0 to 32)`);
  }
  const prefix = Number(match[2]);
  const address = parseIp(match[1]!);
  const base = (address & mask(prefix)) >>> 0;
  if (base !== address) {
    throw new Error(`"${text}" has host bits set; the network is ${formatCidr({ base, prefix })}`);
  }
  return { base, prefix };
}

/** Accepts a CIDR or a bare address (taken as /32). */
export function parseCidrOrIp(text: string): Cidr {
  return text.includes("/") ? parseCidr(text) : { base: parseIp(text), prefix: 32 };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.base)}/${cidr.prefix}`;
}

export function size(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function lastAddress(cidr: Cidr): number {
  return cidr.base + size(cidr) - 1;
}

export function containsIp(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.base && ip <= lastAddress(cidr);
}

export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && containsIp(outer, inner.base);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base <= lastAddress(b) && b.base <= lastAddress(a);
}
