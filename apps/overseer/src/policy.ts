/**
 * Whether a remediation may run now: its policy (enabled, attempts, backoff, grace) against what the
 * earlier attempts did while the same alert has been open. Pure, so the circuit breaker is unit-tested.
 */
import type { RemediationAction } from './env';

export interface RemediationPolicy {
  /** Actions allowed to run. */
  enabled: ReadonlySet<RemediationAction>;
  /** Consecutive failures after which the breaker opens and an alert is raised instead. */
  maxAttempts: number;
  /** Wait after the first failure; doubled after each further one. */
  backoffMs: number;
  /** How long an orphan must have been reported before it may be destroyed. */
  orphanGraceMs: number;
}

/** One earlier attempt, newest first in a history. */
export interface AttemptRecord {
  ok: boolean;
  at: Date;
}

export type RemediationDecision =
  | { kind: 'run'; attempt: number }
  | { kind: 'disabled' }
  | { kind: 'grace'; untilMs: number }
  | { kind: 'backoff'; untilMs: number }
  | { kind: 'breaker-open'; failures: number };

/** Failures since the most recent success. */
export function consecutiveFailures(history: readonly AttemptRecord[]): number {
  const firstSuccess = history.findIndex((attempt) => attempt.ok);
  return firstSuccess === -1 ? history.length : firstSuccess;
}

export function decideRemediation(
  policy: RemediationPolicy,
  action: RemediationAction,
  context: { now: Date; alertFirstSeenAt: Date; history: readonly AttemptRecord[] },
): RemediationDecision {
  if (!policy.enabled.has(action)) return { kind: 'disabled' };
  const now = context.now.getTime();
  if (action === 'destroy-orphan') {
    // first_seen_at comes from Postgres' clock: clamp the skew, so a grace of 0 means "at once".
    const reportedFor = Math.max(0, now - context.alertFirstSeenAt.getTime());
    if (reportedFor < policy.orphanGraceMs) return { kind: 'grace', untilMs: now + policy.orphanGraceMs - reportedFor };
  }
  const failures = consecutiveFailures(context.history);
  if (failures >= policy.maxAttempts) return { kind: 'breaker-open', failures };
  const last = context.history[0];
  if (failures > 0 && last) {
    const retryAt = last.at.getTime() + policy.backoffMs * 2 ** (failures - 1);
    if (now < retryAt) return { kind: 'backoff', untilMs: retryAt };
  }
  return { kind: 'run', attempt: context.history.length + 1 };
}
