/**
 * After reconciliation: findings become alerts (opened or seen again), repairs are planned, alerts
 * whose condition cleared are resolved, and every change goes to the timeline and the webhooks.
 */
import { type AlertEvent, appendEvents, type LiveAlert, resolveClearedAlerts, upsertAlerts } from './alert-store';
import type { OverseerContext } from './context';
import { dedupKeyOf, type Finding } from './findings';
import { notifyWebhooks } from './notify';
import { planRemediations } from './plan-remediation';
import { BREAKER_OPENED } from './remediation-history';

function alertEvent(
  kind: 'alert.opened' | 'alert.resolved',
  alertId: string,
  finding: Finding | undefined,
  subject: string,
): AlertEvent {
  const data = finding?.data ?? {};
  const verb = kind === 'alert.opened' ? 'opened' : 'resolved';
  return {
    kind,
    message: finding ? `${verb}: ${finding.message}` : `${verb}: ${subject} is back to normal`,
    vmId: typeof data.vmId === 'string' ? data.vmId : null,
    labId: typeof data.labId === 'string' ? data.labId : null,
    data: { alertId, subject, ...(finding ? { dedupKey: finding.dedupKey, severity: finding.severity } : {}) },
  };
}

/**
 * Raises alerts for the findings, plans their repairs, resolves what cleared; returns the counts.
 * `observedAt` is when the scan began looking at the platform (see planRemediations).
 */
export async function settleAlerts(
  ctx: OverseerContext,
  platformId: string,
  findings: Finding[],
  now: Date,
  observedAt: Date = now,
) {
  const live = await upsertAlerts(ctx.db, findings);
  const plan = await planRemediations(ctx, platformId, findings, live, now, observedAt);
  const breakers = await upsertAlerts(ctx.db, plan.breakerFindings);
  const all = [...findings, ...plan.breakerFindings];
  const byKey = new Map(all.map((finding) => [finding.dedupKey, finding]));
  const opened = [...live.values(), ...breakers.values()].filter((alert: LiveAlert) => alert.opened);
  const resolved = await resolveClearedAlerts(ctx.db, platformId, [...byKey.keys()]);
  const tripped = [...breakers.values()].filter((alert) => alert.opened);
  await appendEvents(ctx.db, [
    ...opened.map((alert) => alertEvent('alert.opened', alert.id, byKey.get(alert.dedupKey), alert.dedupKey)),
    ...tripped.map((alert) => ({
      ...alertEvent('alert.opened', alert.id, byKey.get(alert.dedupKey), alert.dedupKey),
      kind: BREAKER_OPENED,
      message: byKey.get(alert.dedupKey)?.message ?? alert.dedupKey,
    })),
    ...resolved.map((alert) => alertEvent('alert.resolved', alert.id, undefined, alert.subject)),
  ]);
  await notifyWebhooks(ctx, [
    ...opened.map((alert) => ({ alertId: alert.id, event: 'opened' as const })),
    ...resolved.map((alert) => ({ alertId: alert.id, event: 'resolved' as const })),
  ]);
  return { opened: opened.length, resolved: resolved.length, remediations: plan.enqueued };
}

/**
 * The scan could not read the platform at all: raise (or keep) a critical alert for it. Nothing else
 * is resolved, since nothing was observed; the next successful scan resolves this one.
 */
export async function raisePlatformUnreachable(ctx: OverseerContext, platformId: string, error: unknown) {
  const subject = `platform/${platformId}`;
  const reason = error instanceof Error ? error.message : String(error);
  const finding: Finding = {
    kind: 'platform-unreachable',
    severity: 'critical',
    dedupKey: dedupKeyOf(platformId, 'platform-unreachable', subject),
    subject,
    message: `the Proxmox API of platform ${platformId} could not be read: ${reason.slice(0, 300)}`,
    data: { platformId },
  };
  const [alert] = (await upsertAlerts(ctx.db, [finding])).values();
  if (!alert?.opened) return;
  await appendEvents(ctx.db, [alertEvent('alert.opened', alert.id, finding, subject)]);
  await notifyWebhooks(ctx, [{ alertId: alert.id, event: 'opened' }]);
}
