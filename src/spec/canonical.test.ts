import { describe, expect, it } from "vitest";
import { HOST_DEVICE } from "../hostpath/desired.ts";
import { OWN_INTERFACES, image } from "./canonical.ts";

describe("canonical values", () => {
  it("knows the agent's own host device by the name the agent creates", () => {
    expect(OWN_INTERFACES).toEqual([HOST_DEVICE]);
  });

  it.each([
    ["aks-ipvlan:dev", true],
    ["ghcr.io/aks-ipvlan/aks-ipvlan:0.1.0", true],
    ["localhost:5000/x", true],
    ["[::1]:5000/x", true],
    ["myregistry.azurecr.io/team/a__b/c-d:v1.2_3", true],
    ["../x", false],
    ["localhost:99999/x", false],
    ["x:", false],
    ["x/", false],
    ["x//y", false],
    ["a".repeat(256), false],
  ])("image %s: %s", (text, ok) => {
    expect(image.safeParse(text).success).toBe(ok);
  });
});
