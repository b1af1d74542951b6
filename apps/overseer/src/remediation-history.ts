/**
 * Every remediation attempt is a timeline event (`remediation.succeeded|failed`, the kinds GET /overseer/report lists) carrying its
 * action, target and reason; the circuit breaker reads its history back from there.
 */
import { appendEvent, type Db, type JsonValue, listEventsByData } from '@glassdome/db';
import type { RemediationAction } from './env';
import type { RemediationTarget } from './findings';
import type { AttemptRecord } from './policy';

export const ATTEMPT_SUCCEEDED = 'remediation.succeeded';
export const ATTEMPT_FAILED = 'remediation.failed';
/** A remediation stopped being retried: its circuit breaker opened and an alert was raised instead. */
export const BREAKER_OPENED = 'remediation.breaker-open';

/** The thing a remediation acts on, as one string: a VM or lab id, `vnet.<id>`, or `node.vmid` for an orphan. */
export function targetOf(target: Omit<RemediationTarget, 'action'>): string {
  if (target.vnet) return `vnet.${target.vnet}`;
  if (target.networkId) return `network.${target.networkId}`;
  return target.vmId ?? target.labId ?? `${target.node}.${target.vmid}`;
}

export interface AttemptHistory {
  /** Newest first. */
  attempts: AttemptRecord[];
  /** Id of the newest attempt event (0 when none): with the alert's id, names the next job, so one attempt is enqueued once. */
  lastEventId: number;
}

/** Attempts at `action` on `target` since `since` (the current alert's first sighting), newest first. */
export async function loadAttemptHistory(
  db: Db,
  action: RemediationAction,
  target: Omit<RemediationTarget, 'action'>,
  since: Date,
  limit: number,
): Promise<AttemptHistory> {
  const rows = await listEventsByData(db, {
    kinds: [ATTEMPT_SUCCEEDED, ATTEMPT_FAILED],
    data: { action, target: targetOf(target) },
    since,
    // The (vm_id, id) and (lab_id, id) indexes keep this cheap when the target is a VM or a lab.
    ...(target.vmId ? { vmId: target.vmId } : target.labId ? { labId: target.labId } : {}),
    limit,
  });
  return {
    attempts: rows.map((row) => ({ ok: row.kind === ATTEMPT_SUCCEEDED, at: row.at })),
    lastEventId: rows[0]?.id ?? 0,
  };
}

export async function recordAttempt(
  db: Db,
  attempt: RemediationTarget & { platformId: string; reason: string; ok: boolean; detail: string },
): Promise<void> {
  const data: JsonValue = {
    platformId: attempt.platformId,
    action: attempt.action,
    target: targetOf(attempt),
    reason: attempt.reason,
    ...(attempt.vmid === undefined ? {} : { vmid: attempt.vmid }),
    ...(attempt.node === undefined ? {} : { node: attempt.node }),
  };
  await appendEvent(db, {
    vmId: attempt.vmId ?? null,
    labId: attempt.labId ?? null,
    kind: attempt.ok ? ATTEMPT_SUCCEEDED : ATTEMPT_FAILED,
    message: `${attempt.action} ${attempt.ok ? 'succeeded' : 'failed'}: ${attempt.detail} (reason: ${attempt.reason})`,
    data,
  });
}
