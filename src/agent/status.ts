// The agent's GET /status answer, defined once: serve.ts writes it, the doctor parses what an agent
// pod answers with it. Fields are optional or nullable so a doctor can read an agent of an older or
// newer version, and an agent that has not reconciled yet.
import { z } from "zod";

const text = z.string().nullish();

const policyStatusSchema = z.object({
  enabled: z.boolean(),
  /** Whether NetworkPolicy is in force on the node (its last sync succeeded). */
  enforced: z.boolean(),
  reason: z.string().optional(),
});

export type PolicyStatus = z.infer<typeof policyStatusSchema>;

export const agentStatusSchema = z.object({
  node: z.string(),
  ready: z.boolean(),
  waiting: text,
  nodeIp: text,
  blocks: z.array(z.string()).nullish(),
  backend: text,
  backendReason: text,
  conflist: z.object({ path: z.string(), hash: z.string() }).nullish(),
  chains: z.object({ nat: z.array(z.string()), filter: z.array(z.string()) }).nullish(),
  hostDevice: text,
  /** vxlan mode: the tunnel device, how many other nodes it reaches, its MTU. */
  overlay: z.object({ device: z.string(), peers: z.number(), mtu: z.number() }).nullish(),
  ipForward: text,
  addresses: z
    .object({ inUse: z.number(), capacity: z.number(), gc: z.enum(["on", "off"]).optional() })
    .nullish(),
  lastReconcile: z
    .object({
      at: text,
      durationMs: z.number(),
      repairs: z.array(z.object({ kind: z.string(), detail: z.string(), count: z.number().optional() })),
    })
    .nullish(),
  lastError: text,
  specError: text,
  policy: policyStatusSchema.nullish(),
});

export type AgentStatus = z.infer<typeof agentStatusSchema>;
