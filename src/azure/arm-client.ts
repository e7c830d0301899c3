// The one place the Azure Resource Manager client is made. In a cluster DefaultAzureCredential
// finds the workload identity or managed identity; on a laptop, the `az login` session.
// Tests pass an endpoint, a credential and the CA of their in-test ARM server: the SDK refuses bearer
// tokens over plain http (bearerTokenAuthenticationPolicy), so the test server speaks https.
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { NetworkManagementClient } from "@azure/arm-network";

export interface RouteTableRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export interface ArmOptions {
  /** Resource Manager endpoint; default https://management.azure.com. */
  endpoint?: string;
  credential?: TokenCredential;
  /** Extra trusted CA (PEM), e.g. an in-test server's self-signed certificate. */
  ca?: string;
  /** Long-running operation poll interval when ARM sends no Retry-After. */
  pollIntervalMs?: number;
}

/** Records every ARM call (operation name, seconds, whether it failed) for the metrics. */
export type ArmCallObserver = (operation: string, seconds: number, failed: boolean) => void;

export function networkClient(subscriptionId: string, options: ArmOptions = {}): NetworkManagementClient {
  return new NetworkManagementClient(options.credential ?? new DefaultAzureCredential(), subscriptionId, {
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
  });
}

export async function observed<T>(
  observe: ArmCallObserver | undefined,
  operation: string,
  call: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  let failed = true;
  try {
    const result = await call();
    failed = false;
    return result;
  } finally {
    observe?.(operation, (performance.now() - started) / 1000, failed);
  }
}
