import { setTimeout as sleep } from 'node:timers/promises';
import type { PollingPolicy } from './config';
import { DeadlineExceededError } from './errors';

export interface PollOptions {
  /** What is awaited, for the deadline error. */
  what: string;
  deadlineMs: number;
  polling: PollingPolicy;
}

/**
 * Calls `check` until it returns a value (not undefined), waiting a growing interval between calls and
 * giving up with a DeadlineExceededError once `deadlineMs` has passed. Errors from `check` propagate.
 */
export async function pollUntil<T>(check: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.deadlineMs;
  let interval = options.polling.initialMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new DeadlineExceededError(`${options.what} did not happen within ${options.deadlineMs} ms`);
    }
    await sleep(Math.min(interval, remaining));
    interval = Math.min(options.polling.maxMs, Math.ceil(interval * 1.5));
  }
}
