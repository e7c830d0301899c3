// How talking to the API server fails, kept apart from the client so the CLI can tell failures apart
// without loading @kubernetes/client-node.
import { z } from "zod";

/** The API server could not be reached or refused our credentials: the CLI exits 3. */
export class ClusterUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ClusterUnreachableError";
  }
}

/** The API server answered with an error status; `status` is its Status object when it sent one. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly status: KubeStatus;

  constructor(code: number, status: KubeStatus) {
    super(`${code} ${status.reason ?? ""}: ${status.message ?? "no message"}`.replace(" :", ":"));
    this.name = "KubeApiError";
    this.code = code;
    this.status = status;
  }
}

export interface KubeStatus {
  reason?: string;
  message?: string;
  details?: { causes?: Array<{ type?: string; message?: string; field?: string }> };
}

const statusSchema = z.looseObject({
  reason: z.string().optional(),
  message: z.string().optional(),
  details: z
    .looseObject({
      causes: z
        .array(
          z.looseObject({
            type: z.string().optional(),
            message: z.string().optional(),
            field: z.string().optional(),
          }),
        )
        .optional(),
    })
    .optional(),
});

/** The Status object an error response carries; a body that is not one becomes its message. */
export function statusFromBody(body: unknown): KubeStatus {
  let value = body;
  if (typeof body === "string") {
    try {
      value = JSON.parse(body) as unknown;
    } catch {
      return { message: body };
    }
  }
  const parsed = statusSchema.safeParse(value ?? {});
  return parsed.success ? parsed.data : { message: typeof body === "string" ? body : JSON.stringify(body) };
}
