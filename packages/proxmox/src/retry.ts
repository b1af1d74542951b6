import { setTimeout as sleep } from 'node:timers/promises';
import { onAbort } from './abort';
import { ProxmoxError, TransientError } from './errors';

export interface RetryPolicy {
  /**
   * Total tries, the first included; 1 disables retrying.
   * @defaultValue 4
   */
  attempts: number;
  /**
   * Ceiling of the first backoff; each further one doubles it.
   * @defaultValue 500
   */
  baseDelayMs: number;
  /**
   * Cap of any single backoff.
   * @defaultValue 8000
   */
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8000 };

/**
 * Delay before try number `attempt + 1` (attempt counts from 1): "full jitter" exponential backoff, a
 * random wait up to the doubled ceiling, so many workers that failed together do not retry together.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Whether an error may be repeated. Only TransientErrors are; when the call is not idempotent, only
 * those that certainly did not reach Proxmox (`maybeApplied` false), so nothing is done twice.
 */
export function isRetryable(error: unknown, idempotent: boolean): boolean {
  if (!(error instanceof ProxmoxError) || !error.retryable) return false;
  if (idempotent) return true;
  return !(error instanceof TransientError && error.maybeApplied);
}

export interface RetryOptions {
  policy: RetryPolicy;
  idempotent: boolean;
  /** Called before each wait, e.g. to log the retry. */
  onRetry?: (error: ProxmoxError, attempt: number, delayMs: number) => void;
  /** Ends the waiting between tries early, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/** Waits `ms`, or rejects with the signal's reason as soon as it fires. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return sleep(ms);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      resolve();
    }, ms);
    const stop = onAbort(signal, () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

/** Runs `operation`, repeating it on retryable errors within the policy's bound. */
export async function withRetry<T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (attempt >= options.policy.attempts || !isRetryable(error, options.idempotent)) throw error;
      const delayMs = backoffDelay(options.policy, attempt);
      options.onRetry?.(error as ProxmoxError, attempt, delayMs);
      await pause(delayMs, options.signal);
    }
  }
}
