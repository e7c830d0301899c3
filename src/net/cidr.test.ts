import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  containsCidr,
  containsIp,
  formatCidr,
  formatIp,
  lastAddress,
  overlaps,
  parseCidr,
  parseCidrOrIp,
  parseIp,
  size,
} from "./cidr.ts";

const address = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const cidr = fc.record({ address, prefix: fc.integer({ min: 0, max: 32 }) }).map(({ address, prefix }) => {
  const base = prefix === 0 ? 0 : (address & ((~0 << (32 - prefix)) >>> 0)) >>> 0;
  return { base, prefix };
});

describe("IPv4 addresses", () => {
  it("parses and formats the ends of the address space", () => {
    expect(parseIp("0.0.0.0")).toBe(0);
    expect(parseIp("255.255.255.255")).toBe(2 ** 32 - 1);
    expect(parseIp("10.224.0.4")).toBe(0x0ae00004);
    expect(formatIp(0x0ae00004)).toBe("10.224.0.4");
  });

  it("round-trips every address", () => {
    fc.assert(fc.property(address, (value) => parseIp(formatIp(value)) === value));
  });

  it.each(["10.224.0", "10.224.0.256", "010.224.0.4", "10.224.0.4 ", "a.b.c.d", "", "::1"])(
    "rejects %j",
    (text) => {
      expect(() => parseIp(text)).toThrow(/not an IPv4 address/);
    },
  );
});

describe("CIDR blocks", () => {
  it("parses the seed's blocks", () => {
    expect(parseCidr("10.224.0.16/28")).toEqual({ base: 0x0ae00010, prefix: 28 });
    expect(size(parseCidr("10.224.0.16/28"))).toBe(16);
    expect(formatIp(lastAddress(parseCidr("10.224.0.16/28")))).toBe("10.224.0.31");
    expect(parseCidr("0.0.0.0/0")).toEqual({ base: 0, prefix: 0 });
    expect(lastAddress(parseCidr("0.0.0.0/0"))).toBe(2 ** 32 - 1);
  });

  it("refuses host bits and names the network meant", () => {
    expect(() => parseCidr("10.224.0.17/28")).toThrow(/host bits set; the network is 10.224.0.16\/28/);
  });

  it.each(["10.224.0.0", "10.224.0.0/33", "10.224.0.0/-1", "10.224.0.0/", "/16", "10.224.0.0/1a"])(
    "rejects %j",
    (text) => {
      expect(() => parseCidr(text)).toThrow(/not an IPv4 CIDR/);
    },
  );

  it("takes a bare address as a /32", () => {
    expect(parseCidrOrIp("10.224.0.9")).toEqual({ base: parseIp("10.224.0.9"), prefix: 32 });
    expect(parseCidrOrIp("10.224.0.8/29")).toEqual(parseCidr("10.224.0.8/29"));
  });

  it("round-trips every block", () => {
    fc.assert(
      fc.property(cidr, (block) => {
        expect(parseCidr(formatCidr(block))).toEqual(block);
      }),
    );
  });

  it("overlap is symmetric and agrees with address membership", () => {
    fc.assert(
      fc.property(cidr, cidr, (a, b) => {
        const byAddress = containsIp(a, b.base) || containsIp(b, a.base);
        expect(overlaps(a, b)).toBe(byAddress);
        expect(overlaps(b, a)).toBe(overlaps(a, b));
      }),
    );
  });

  it("two blocks overlap only when one contains the other", () => {
    fc.assert(
      fc.property(cidr, cidr, (a, b) => {
        expect(overlaps(a, b)).toBe(containsCidr(a, b) || containsCidr(b, a));
      }),
    );
  });

  it("a block contains exactly the addresses from its base to its last address", () => {
    fc.assert(
      fc.property(cidr, address, (block, ip) => {
        expect(containsIp(block, ip)).toBe(ip >= block.base && ip - block.base < size(block));
      }),
    );
  });

  it("adjacent blocks do not overlap", () => {
    expect(overlaps(parseCidr("10.224.0.16/28"), parseCidr("10.224.0.32/28"))).toBe(false);
    expect(overlaps(parseCidr("10.224.0.16/28"), parseCidr("10.224.0.0/16"))).toBe(true);
    expect(containsCidr(parseCidr("10.224.0.16/28"), parseCidr("10.224.0.0/16"))).toBe(false);
  });
});
