// Runs a task one at a time; kicks that arrive while it runs fold into one more run. A burst of
// watch events thus becomes a few passes over everything, not one pass per event.
export class Coalescer {
  private readonly task: () => Promise<void>;
  private readonly onError: (error: unknown) => void;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(task: () => Promise<void>, onError: (error: unknown) => void) {
    this.task = task;
    this.onError = onError;
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.running = this.loop();
  }

  /** No more runs start; resolves when the current one ends. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.running ?? Promise.resolve();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.task().catch(this.onError);
    } while (this.again && !this.stopped);
    this.running = undefined;
  }
}
