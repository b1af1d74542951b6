import type { Latencies } from './options';

/**
 * Turns nominal latencies into scaled real delays, and tracks every pending timer so a stopped
 * simulator leaves nothing behind that keeps the process alive.
 */
export class SimClock {
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Extra multiplier on task work, set by the `slowTaskFactor` fault. */
  slowTaskFactor = 1;

  constructor(
    readonly timeScale: number,
    readonly latencies: Latencies,
  ) {}

  /** Real milliseconds of a nominal latency. */
  ms(name: keyof Latencies): number {
    return this.latencies[name] * this.timeScale;
  }

  /** Sleeps a nominal latency (scaled); task work is further stretched by `slowTaskFactor`. */
  sleep(name: keyof Latencies, options: { taskWork?: boolean } = {}): Promise<void> {
    return this.delay(this.ms(name) * (options.taskWork ? this.slowTaskFactor : 1));
  }

  /** Sleeps `ms` real milliseconds. */
  delay(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  /** Runs `fn` after `ms` real milliseconds unless cancelled; returns the cancel function. */
  schedule(ms: number, fn: () => void): () => void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.timers.delete(timer);
    };
  }

  /** Cancels every pending delay (their promises never settle) and scheduled call. */
  cancelAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
