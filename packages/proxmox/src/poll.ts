import type { PollingPolicy } from './config';
import { DeadlineExceededError } from './errors';
import { pause } from './retry';

/**
 * When the first look of each kind of wait (a task type on a node, a guest agent's first address) is
 * taken, learned from the waits of that kind so far: a wait that was over at its first look moves
 * the next first look a tenth earlier; one that was not moves it three tenths later, or to the middle
 * of the span in which it ended (between its last look that saw it unfinished and the one that saw
 * it over) when that is later, but never more than twice as late at once (one slow task does not
 * hold the next ones back for long). Most waits then end at their first look, and one that ends
 * early is seen not much later than the fixed schedule would have seen it. Shared by every view of a
 * client (`withSignal`), so each job learns from the others.
 */
export class FirstLooks {
  readonly #delays = new Map<string, number>();

  /** The pause before the first look of a wait of `kind`; `initialMs` until one has ended. */
  delay(kind: string, initialMs: number): number {
    return this.#delays.get(kind) ?? initialMs;
  }

  /**
   * A wait of `kind` whose first look came `firstDelayMs` after it began was seen over `endedMs` after
   * it began; its last look that still saw it unfinished came `lastUnfinishedMs` after it began
   * (undefined: the first look saw it over).
   */
  record(kind: string, firstDelayMs: number, lastUnfinishedMs: number | undefined, endedMs: number): void {
    let next = firstDelayMs * 0.9;
    if (lastUnfinishedMs !== undefined) {
      next = Math.max(firstDelayMs * 1.3, (lastUnfinishedMs + endedMs) / 2);
      if (firstDelayMs > 0) next = Math.min(next, firstDelayMs * 2);
    }
    this.#delays.set(kind, Math.round(next));
  }
}

export interface PollOptions {
  /** What is awaited, for the deadline error. */
  what: string;
  deadlineMs: number;
  polling: PollingPolicy;
  /** Stops the wait at once, rejecting with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Pause before the first check, for what cannot be done yet when the wait begins (a task just
   * submitted): a call saved per wait. With `learned`, only until a wait of its kind has ended.
   * @defaultValue 0
   */
  firstDelayMs?: number;
  /** The first check timed from how long waits of `kind` took before (see FirstLooks). */
  learned?: { looks: FirstLooks; kind: string };
}

/**
 * Calls `check` until it returns a value (not undefined), waiting a growing interval between calls and
 * giving up with a DeadlineExceededError once `deadlineMs` has passed, or with the signal's reason as
 * soon as it fires. Errors from `check` propagate.
 */
export async function pollUntil<T>(check: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const began = Date.now();
  const deadline = began + options.deadlineMs;
  const { learned } = options;
  const firstDelayMs = learned
    ? learned.looks.delay(learned.kind, options.firstDelayMs ?? 0)
    : (options.firstDelayMs ?? 0);
  let interval = options.polling.initialMs;
  let lastUnfinishedMs: number | undefined;
  if (firstDelayMs > 0) await pause(Math.min(firstDelayMs, options.deadlineMs), options.signal);
  for (;;) {
    options.signal?.throwIfAborted();
    const lookedAt = Date.now();
    const value = await check();
    if (value !== undefined) {
      learned?.looks.record(learned.kind, firstDelayMs, lastUnfinishedMs, lookedAt - began);
      return value;
    }
    lastUnfinishedMs = lookedAt - began;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new DeadlineExceededError(`${options.what} did not happen within ${options.deadlineMs} ms`);
    }
    await pause(Math.min(interval, remaining), options.signal);
    interval = Math.min(options.polling.maxMs, Math.ceil(interval * 1.5));
  }
}
