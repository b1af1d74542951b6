/**
 * Whether a remediation may run now: its policy (enabled, attempts, backoff, grace) against what the
 * earlier attempts did while the same alert has been open. An attempt is judged by its effect, not by
 * its own outcome: one that ran to the end counts as a failure once a scan that began after it still
 * sees the finding (had it helped, the alert would have been resolved and a new one opened). Pure, so
 * the circuit breaker is unit-tested.
 */
import type { RemediationAction } from './env';

export interface RemediationPolicy {
  /** Actions allowed to run. */
  enabled: ReadonlySet<RemediationAction>;
  /** Attempts that did not clear the finding after which the breaker opens and an alert is raised instead. */
  maxAttempts: number;
  /** Wait after the first failure; doubled after each further one. */
  backoffMs: number;
  /** How long an orphan (VM or VNet) must have been reported before it may be destroyed. */
  orphanGraceMs: number;
}

/** One earlier attempt at the same finding (the same open alert), newest first in a history. */
export interface AttemptRecord {
  /** The action ran to the end (which says nothing yet about whether it helped). */
  ok: boolean;
  /** When it ended. */
  at: Date;
}

export type RemediationDecision =
  | { kind: 'run'; attempt: number }
  | { kind: 'disabled' }
  | { kind: 'grace'; untilMs: number }
  | { kind: 'awaiting-effect' }
  | { kind: 'backoff'; untilMs: number }
  | { kind: 'breaker-open'; failures: number };

/**
 * The attempts that did not clear the finding: those that failed, and those that ran to the end
 * before `observedAt` (when the scan that still sees the finding began looking). An attempt that
 * ended after that has not been judged yet.
 */
export function attemptsThatDidNotHelp(history: readonly AttemptRecord[], observedAt: Date): number {
  return history.filter((attempt) => !attempt.ok || attempt.at.getTime() <= observedAt.getTime()).length;
}

export function decideRemediation(
  policy: RemediationPolicy,
  action: RemediationAction,
  context: {
    now: Date;
    /** When the scan that sees the finding began observing (its inventory read). @defaultValue now */
    observedAt?: Date;
    alertFirstSeenAt: Date;
    history: readonly AttemptRecord[];
  },
): RemediationDecision {
  if (!policy.enabled.has(action)) return { kind: 'disabled' };
  const now = context.now.getTime();
  if (action === 'destroy-orphan' || action === 'delete-vnet') {
    // first_seen_at comes from Postgres' clock: clamp the skew, so a grace of 0 means "at once".
    const reportedFor = Math.max(0, now - context.alertFirstSeenAt.getTime());
    if (reportedFor < policy.orphanGraceMs) return { kind: 'grace', untilMs: now + policy.orphanGraceMs - reportedFor };
  }
  const observedAt = context.observedAt ?? context.now;
  const last = context.history[0];
  // The newest attempt ended after this scan looked: the next scan shows whether it helped.
  if (last?.ok && last.at.getTime() > observedAt.getTime()) return { kind: 'awaiting-effect' };
  const failures = attemptsThatDidNotHelp(context.history, observedAt);
  if (failures >= policy.maxAttempts) return { kind: 'breaker-open', failures };
  if (failures > 0 && last) {
    const retryAt = last.at.getTime() + policy.backoffMs * 2 ** (failures - 1);
    if (now < retryAt) return { kind: 'backoff', untilMs: retryAt };
  }
  return { kind: 'run', attempt: context.history.length + 1 };
}
