import { describe, expect, it } from "vitest";
import { exitCode } from "./exec.ts";

describe("exitCode from the API server's exec Status", () => {
  it("reads Success as 0 and NonZeroExitCode's ExitCode cause as the code", () => {
    expect(exitCode({ status: "Success" })).toBe(0);
    expect(
      exitCode({
        status: "Failure",
        reason: "NonZeroExitCode",
        details: { causes: [{ reason: "ExitCode", message: "137" }] },
      }),
    ).toBe(137);
  });

  it("treats a stream that closed without a status, or a failure without a code, as 1", () => {
    expect(exitCode(undefined)).toBe(1);
    expect(exitCode({ status: "Failure", reason: "InternalError" })).toBe(1);
  });
});
