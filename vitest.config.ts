import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // One real etcd + kube-apiserver for the run, for the tests that meet the real API server.
    globalSetup: ["./test/realkube/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 600_000,
    // expect.poll waits on a condition; its 1 s default turns a loaded machine into a failure.
    expect: { poll: { timeout: 20_000 } },
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
