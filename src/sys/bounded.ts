// Bounded concurrency, the one limiter of the project: calls against the cluster or ARM a few at a
// time, enough to hide latency, few enough not to flood the API server, ARM or the nodes.

/** Runs at most `concurrency` tasks at once; the others wait their turn, first come first served. */
export class Limiter {
  private readonly concurrency: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(concurrency: number) {
    this.concurrency = Math.max(1, concurrency);
  }

  /** Tasks waiting for a turn (not counting the running ones). */
  get queued(): number {
    return this.waiting.length;
  }

  async run<R>(task: () => Promise<R>): Promise<R> {
    if (this.active < this.concurrency) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      // The finished task hands its turn to the next one, or gives it back.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

const SKIPPED = Symbol("skipped after an earlier failure");

/**
 * `work` over `items`, at most `limit` at a time; results keep the input order. After a failure no
 * new item starts, and the first failure is thrown once the running ones end.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const limiter = new Limiter(limit);
  let failed = false;
  const settled = await Promise.allSettled(
    items.map((item, index) =>
      limiter.run(async () => {
        if (failed) throw SKIPPED;
        try {
          return await work(item, index);
        } catch (error) {
          failed = true;
          throw error;
        }
      }),
    ),
  );
  const failure = settled.find(
    (result): result is PromiseRejectedResult => result.status === "rejected" && result.reason !== SKIPPED,
  );
  if (failure) throw failure.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<R>).value);
}
