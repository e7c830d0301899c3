import { describe, expect, it } from "vitest";
import { formatListen, parseListen } from "./listen.ts";

describe("parseListen", () => {
  it.each([
    ["127.0.0.1:9464", { host: "127.0.0.1", port: 9464 }],
    ["0.0.0.0:9465", { host: "0.0.0.0", port: 9465 }],
    ["10.224.0.4:0", { host: "10.224.0.4", port: 0 }],
    ["10.224.0.4:65535", { host: "10.224.0.4", port: 65535 }],
  ])("reads %s", (text, address) => {
    expect(parseListen(text)).toEqual(address);
    expect(formatListen(parseListen(text))).toBe(text);
  });

  it.each([
    ["a bare port, which would mean every address", ":9464", /not an IPv4 address and port/],
    ["no port", "127.0.0.1", /not an IPv4 address and port/],
    ["a port over 65535", "127.0.0.1:65536", /not an IPv4 address and port/],
    ["a host name", "localhost:9464", /"localhost" is not an IPv4 address/],
    ["IPv6", "[::1]:9464", /not an IPv4 address and port/],
    ["a bad address", "127.0.0.256:9464", /"127.0.0.256" is not an IPv4 address/],
    ["surrounding space", " 127.0.0.1:9464", /is not an IPv4 address/],
    ["limited broadcast", "255.255.255.255:80", /not a unicast address/],
    ["multicast", "224.0.0.1:80", /not a unicast address/],
    ["reserved space", "240.0.0.1:80", /not a unicast address/],
    ['"this network" other than 0.0.0.0', "0.0.0.1:80", /not a unicast address/],
  ])("refuses %s", (_name, text, message) => {
    expect(() => parseListen(text)).toThrow(message);
  });
});
