import type { PollingPolicy } from './config';
import { DeadlineExceededError } from './errors';
import { pause } from './retry';

export interface PollOptions {
  /** What is awaited, for the deadline error. */
  what: string;
  deadlineMs: number;
  polling: PollingPolicy;
  /** Stops the wait at once, rejecting with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Pause before the first check, for what cannot be done yet when the wait begins (a task just
   * submitted): a call saved per wait.
   * @defaultValue 0
   */
  firstDelayMs?: number;
}

/**
 * Calls `check` until it returns a value (not undefined), waiting a growing interval between calls and
 * giving up with a DeadlineExceededError once `deadlineMs` has passed, or with the signal's reason as
 * soon as it fires. Errors from `check` propagate.
 */
export async function pollUntil<T>(check: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.deadlineMs;
  let interval = options.polling.initialMs;
  if (options.firstDelayMs) await pause(Math.min(options.firstDelayMs, options.deadlineMs), options.signal);
  for (;;) {
    options.signal?.throwIfAborted();
    const value = await check();
    if (value !== undefined) return value;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new DeadlineExceededError(`${options.what} did not happen within ${options.deadlineMs} ms`);
    }
    await pause(Math.min(interval, remaining), options.signal);
    interval = Math.min(options.polling.maxMs, Math.ceil(interval * 1.5));
  }
}
