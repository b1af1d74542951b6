/**
 * For each finding that has a repair: ask the policy whether it may run now, enqueue it if so, or —
 * when its circuit breaker is open — return an alert to raise instead of retrying.
 */
import type { LiveAlert } from './alert-store';
import type { OverseerContext } from './context';
import { breakerKeyOf, type Finding } from './findings';
import { inLanes } from './lanes';
import { decideRemediation } from './policy';
import { loadAttemptHistory, targetOf } from './remediation-history';

export interface RemediationPlan {
  enqueued: number;
  /** Alerts to raise because a remediation stopped being retried. */
  breakerFindings: Finding[];
}

function breakerFinding(finding: Finding, failures: number): Finding {
  const action = finding.remediation!.action;
  return {
    kind: 'remediation-breaker',
    severity: 'critical',
    dedupKey: breakerKeyOf(finding.dedupKey),
    subject: finding.subject,
    message: `${action} failed ${failures} times for ${finding.subject}; no longer retried while "${finding.message}" lasts`,
    data: { ...finding.data, action, failures, findingKey: finding.dedupKey },
  };
}

export async function planRemediations(
  ctx: OverseerContext,
  platformId: string,
  findings: readonly Finding[],
  live: ReadonlyMap<string, LiveAlert>,
  now: Date,
  /** When this scan began observing; attempts that ended before it and did not clear the finding count as failures. */
  observedAt: Date = now,
): Promise<RemediationPlan> {
  const plan: RemediationPlan = { enqueued: 0, breakerFindings: [] };
  const { policy } = ctx.settings;
  const repairable = findings.filter(
    (finding) => finding.remediation && policy.enabled.has(finding.remediation.action),
  );
  await inLanes(repairable, 8, async (finding) => {
    const { action, ...target } = finding.remediation!;
    const alert = live.get(finding.dedupKey);
    if (!alert) return;
    const history = await loadAttemptHistory(ctx.db, action, target, alert.firstSeenAt, policy.maxAttempts + 1);
    const decision = decideRemediation(policy, action, {
      now,
      observedAt,
      alertFirstSeenAt: alert.firstSeenAt,
      history: history.attempts,
    });
    if (decision.kind === 'breaker-open') {
      plan.breakerFindings.push(breakerFinding(finding, decision.failures));
      return;
    }
    if (decision.kind !== 'run') return;
    // Named after this occurrence of the finding (its alert: a condition that clears and comes back
    // opens a new one) and the newest attempt recorded for it. While a job is queued or running no new
    // attempt is recorded, so every scan in between adds the same id, which BullMQ ignores; the next
    // attempt, or the same VM stopped a second time, gets an id of its own.
    const jobId = `remediate.${action}.${targetOf(target)}.${alert.id}.${history.lastEventId}`;
    await ctx.producer.enqueue(
      'overseer.remediate',
      { action, platformId, ...target, reason: finding.message.slice(0, 500) },
      { jobId },
    );
    plan.enqueued += 1;
  });
  return plan;
}
