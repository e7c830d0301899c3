// Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does: the holder
// renews every retry period; a candidate takes the lease only when the record has not changed for
// a whole lease duration by its own clock (so clock skew between machines does not matter); every
// write carries the resourceVersion it read, so of two candidates one gets 409 and stays follower;
// a leader that cannot renew within the renew deadline stops leading before its lease can expire.
import type { KubeApi, KubeObject, ObjectRef } from "../kube/client.ts";
import { KubeApiError } from "../kube/client.ts";
import { modelOf, type Model } from "../kube/models.ts";

export interface LeaseTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

const DEFAULT_LEASE_TIMINGS: LeaseTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export interface LeaderCallbacks {
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onError?: (error: unknown) => void;
}

type LeaseSpec = NonNullable<Model<"coordination.k8s.io/v1/Lease">["spec"]>;

export class LeaderElector {
  private readonly api: KubeApi;
  private readonly ref: ObjectRef;
  private readonly identity: string;
  private readonly timings: LeaseTimings;
  private readonly callbacks: LeaderCallbacks;
  private leading = false;
  private lastRenewAt = 0;
  private observedRecord = "";
  private observedAt = 0;

  constructor(
    api: KubeApi,
    lease: { namespace: string; name: string; identity: string; timings?: LeaseTimings },
    callbacks: LeaderCallbacks,
  ) {
    this.api = api;
    this.ref = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      name: lease.name,
      namespace: lease.namespace,
    };
    this.identity = lease.identity;
    this.timings = lease.timings ?? DEFAULT_LEASE_TIMINGS;
    this.callbacks = callbacks;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns and renews until `signal` aborts; then gives the lease up if it holds it. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const held = await this.tryAcquireOrRenew().catch((error: unknown) => {
        this.callbacks.onError?.(error);
        return false;
      });
      const now = Date.now();
      if (held) {
        this.lastRenewAt = now;
        if (!this.leading) {
          this.leading = true;
          this.callbacks.onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenewAt >= this.timings.renewDeadlineMs) {
        this.stopLeading();
      }
      await pause(this.timings.retryPeriodMs, signal);
    }
    if (this.leading) {
      this.stopLeading();
      await this.release().catch((error: unknown) => this.callbacks.onError?.(error));
    }
  }

  private stopLeading(): void {
    this.leading = false;
    this.callbacks.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const lease = await this.api.get(this.ref);
    const desired = (spec: LeaseSpec): LeaseSpec => ({
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.timings.leaseDurationMs / 1000),
      acquireTime:
        spec.holderIdentity === this.identity && spec.acquireTime ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions:
        spec.holderIdentity === this.identity
          ? (spec.leaseTransitions ?? 0)
          : (spec.leaseTransitions ?? -1) + 1,
    });
    if (!lease) {
      return this.write(() =>
        this.api.create({
          apiVersion: this.ref.apiVersion,
          kind: this.ref.kind,
          metadata: { name: this.ref.name, namespace: this.ref.namespace },
          spec: desired({}),
        }),
      );
    }
    const spec = modelOf("coordination.k8s.io/v1/Lease", lease).spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, lease.metadata.resourceVersion]);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = now;
    }
    const heldByOther = Boolean(spec.holderIdentity) && spec.holderIdentity !== this.identity;
    const expired = now >= this.observedAt + (spec.leaseDurationSeconds ?? 0) * 1000;
    if (heldByOther && !expired) {
      if (this.leading) this.stopLeading();
      return false;
    }
    return this.write(() => this.patch(lease, desired(spec)));
  }

  /** Gives the lease up so the other replica need not wait for it to expire. */
  private async release(): Promise<void> {
    const lease = await this.api.get(this.ref);
    const spec = (lease && modelOf("coordination.k8s.io/v1/Lease", lease).spec) ?? {};
    if (!lease || spec.holderIdentity !== this.identity) return;
    const now = microTime(Date.now());
    await this.patch(lease, {
      holderIdentity: "",
      leaseDurationSeconds: 1,
      renewTime: now,
      acquireTime: now,
    });
  }

  private patch(lease: KubeObject, spec: LeaseSpec): Promise<KubeObject> {
    return this.api.mergePatch(this.ref, {
      metadata: {
        name: this.ref.name,
        namespace: this.ref.namespace,
        resourceVersion: lease.metadata.resourceVersion,
      },
      spec,
    });
  }

  private async write(request: () => Promise<KubeObject>): Promise<boolean> {
    try {
      await request();
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 409) return false;
      throw error;
    }
  }
}

/** Lease times are MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Waits `ms` or until `signal` aborts, whichever is first. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
