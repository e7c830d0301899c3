// vitest globalSetup: one real control plane (test/realkube/control-plane.ts) for the whole run,
// shared by every test file that meets the real API server; each test isolates itself by names.
// When the programs are not built, the tests that need them fail with the reason (no silent skip).
import type { TestProject } from "vitest/node";
import { missingPrograms, startControlPlane, type ControlPlaneAccess } from "./control-plane.ts";

declare module "vitest" {
  export interface ProvidedContext {
    realKube: ControlPlaneAccess | { unavailable: string };
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const missing = missingPrograms();
  if (missing) {
    project.provide("realKube", { unavailable: missing });
    return undefined;
  }
  const started = performance.now();
  const plane = await startControlPlane();
  const { close, ...access } = plane;
  project.provide("realKube", access);
  console.log(
    `real control plane (etcd + kube-apiserver) ready in ${Math.round(performance.now() - started)} ms`,
  );
  return close;
}
