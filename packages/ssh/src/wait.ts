import { setTimeout as sleep } from 'node:timers/promises';
import { SshAuthError, SshConnectError, SshTimeoutError } from './errors';
import { portOf, type SshTarget } from './target';

/** Options of waitForSsh. */
export interface WaitForSshOptions {
  /** How long to keep trying before giving up with SshTimeoutError. @defaultValue 300000 (5 minutes) */
  deadlineMs?: number;
  /** Pause between attempts. @defaultValue 1000 */
  intervalMs?: number;
  /** Longest single attempt (connect, handshake, authentication); capped by the time left. @defaultValue 10000 */
  attemptTimeoutMs?: number;
  /** Ends the wait between attempts, rejecting with its reason. @defaultValue none */
  signal?: AbortSignal;
}

/** Failures a booting host goes through: port closed, sshd not answering yet, key not installed yet. */
function isTransient(error: unknown): boolean {
  return error instanceof SshConnectError || error instanceof SshTimeoutError || error instanceof SshAuthError;
}

/**
 * Calls `attempt` until it succeeds, a non-transient error occurs, or the deadline passes. Each attempt
 * gets the smaller of its own timeout and the time left, so the deadline holds.
 */
export async function retryUntilDeadline(
  target: SshTarget,
  options: WaitForSshOptions,
  attempt: (attemptTimeoutMs: number) => Promise<void>,
): Promise<void> {
  const deadlineMs = options.deadlineMs ?? 300_000;
  const deadline = Date.now() + deadlineMs;
  let attempts = 0;
  let lastError: unknown;
  const { signal } = options;
  for (;;) {
    signal?.throwIfAborted();
    const left = deadline - Date.now();
    if (left <= 0) break;
    attempts += 1;
    try {
      return await attempt(Math.min(options.attemptTimeoutMs ?? 10_000, left));
    } catch (error) {
      signal?.throwIfAborted();
      if (!isTransient(error)) throw error;
      lastError = error;
    }
    const pause = Math.min(options.intervalMs ?? 1000, deadline - Date.now());
    if (pause > 0) await sleep(pause, undefined, signal ? { signal } : {}).catch(() => signal?.throwIfAborted());
  }
  const last = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
  throw new SshTimeoutError(target.host, portOf(target), 'waiting for SSH', deadlineMs, `${attempts} attempts${last}`);
}
