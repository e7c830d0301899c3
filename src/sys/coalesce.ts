// Runs a task one at a time; kicks that arrive while it runs fold into one more run. A burst of
// watch events thus becomes a few passes over everything, not one pass per event. The agent's
// reconcile, the controller's allocation pass and route sync, and the policy sync all run this way.
// Each kick may name its reason; a run gets the reasons collected since the previous run started.
// With a backoff, a run that fails is run again after a capped exponential backoff (as client-go's
// rate-limited work queue does); kicks that arrive meanwhile wait for that retry, so a failing API
// server is not hammered by every watch event. A run that succeeds resets the backoff. Without a
// backoff, a failed run is not repeated by itself; the next kick runs the task again.

export interface Backoff {
  firstMs: number;
  maxMs: number;
}

export class Coalescer {
  private readonly task: (reasons: ReadonlySet<string>) => Promise<void>;
  private readonly onError: (error: unknown) => void;
  private readonly backoff: Backoff | undefined;
  private running: Promise<void> | undefined;
  private reasons = new Set<string>();
  private again = false;
  private stopped = false;
  private delayMs = 0;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    task: (reasons: ReadonlySet<string>) => Promise<void>,
    onError: (error: unknown) => void,
    backoff?: Backoff,
  ) {
    this.task = task;
    this.onError = onError;
    this.backoff = backoff;
  }

  /** A run soon: now, after the current one, or (after a failure) when the backoff ends. */
  kick(reason?: string): void {
    if (this.stopped) return;
    if (reason !== undefined) this.reasons.add(reason);
    if (this.retry) return;
    if (this.running) this.again = true;
    else this.running = this.loop();
  }

  /** A run now even while backing off (resync: the periodic catch-up does not wait for the backoff). */
  kickNow(reason?: string): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    this.kick(reason);
  }

  /** No more runs start; resolves when the current one ends. */
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    return this.running ?? Promise.resolve();
  }

  private async loop(): Promise<void> {
    let failed: boolean;
    do {
      this.again = false;
      const reasons = this.reasons;
      this.reasons = new Set();
      failed = await this.task(reasons).then(
        () => false,
        (error: unknown) => (this.onError(error), true),
      );
    } while (this.again && !this.stopped && !(failed && this.backoff));
    this.running = undefined;
    if (!failed || !this.backoff) {
      this.delayMs = 0;
      return;
    }
    if (this.stopped) return;
    this.delayMs = Math.min(this.delayMs === 0 ? this.backoff.firstMs : this.delayMs * 2, this.backoff.maxMs);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, this.delayMs);
  }
}
