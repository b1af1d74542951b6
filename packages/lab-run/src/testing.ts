/**
 * Testing mode requests: widen a lab's egress for a while (the job snapshots the lab first and
 * schedules its own end), or end it now. The lab stays `ready` throughout; `labs.testing` says what
 * is in force and until when.
 */
import { appendEvent, type Db, getLabExtras, inTransaction, type JsonValue } from '@glassdome/db';
import type { EgressPolicy } from '@glassdome/lab';
import { jobIntent } from '@glassdome/queue';
import { loadLab } from './lab-record';
import { OperationRefused, type RequestedOperation, recordOperation, vmsOfTarget } from './operations';
import { writeIntent } from './outbox';

/** What `labs.testing` holds while testing mode is on. */
export interface TestingState {
  since: string;
  until: string;
  egress: EgressPolicy;
  /** Networks it widens; every network when absent. */
  networks?: string[];
  /** The snapshot taken before (named `gd-testing-…`). */
  snapshot: string;
  startedBy: string | null;
  /** The operation that ends it (its delayed job fires at `until`). */
  stopOperationId: string;
}

export function testingOf(value: unknown): TestingState | null {
  return value && typeof value === 'object' ? (value as TestingState) : null;
}

export async function requestTestingStart(
  db: Db,
  request: {
    labId: string;
    egress: EgressPolicy;
    networks?: string[];
    durationSeconds: number;
    requestedBy?: string | null;
  },
): Promise<RequestedOperation> {
  return inTransaction(db, async (trx) => {
    const lab = await loadLab(trx, request.labId);
    if (!lab) throw new OperationRefused('not_found', 'lab not found');
    if (lab.status !== 'ready' && lab.status !== 'degraded') {
      throw new OperationRefused('conflict', `a ${lab.status} lab cannot enter testing mode`);
    }
    if (testingOf((await getLabExtras(trx, request.labId))?.testing)) {
      throw new OperationRefused(
        'conflict',
        'the lab is in testing mode already; end it first (DELETE /labs/:id/testing)',
      );
    }
    const vms = (await vmsOfTarget(trx, request.labId, { kind: 'lab' })).filter((vm) => vm.status === 'ready');
    const requested = await recordOperation(trx, {
      labId: request.labId,
      kind: 'testing-start',
      target: { kind: 'lab' },
      options: {
        egress: request.egress as JsonValue,
        ...(request.networks ? { networks: request.networks } : {}),
        durationSeconds: request.durationSeconds,
      },
      total: vms.length,
      requestedBy: request.requestedBy ?? null,
    });
    await appendEvent(trx, {
      labId: request.labId,
      kind: 'lab.testing.requested',
      message: `testing mode requested for ${request.durationSeconds} s: egress ${JSON.stringify(request.egress)}${request.networks ? ` on ${request.networks.join(', ')}` : ''}`,
      data: { operationId: requested.operationId },
    });
    return requested;
  });
}

/** Ends testing mode now: its stop job runs at once (the delayed one later finds nothing to do). */
export async function requestTestingStop(
  db: Db,
  request: { labId: string; requestedBy?: string | null },
): Promise<{ operationId: string; jobId: string }> {
  return inTransaction(db, async (trx) => {
    const testing = testingOf((await getLabExtras(trx, request.labId))?.testing);
    if (!testing) throw new OperationRefused('conflict', 'the lab is not in testing mode');
    const jobId = `lab-testing-stop.${testing.stopOperationId}.now`;
    await writeIntent(trx, jobIntent('lab.testing', { operationId: testing.stopOperationId }, jobId));
    await appendEvent(trx, {
      labId: request.labId,
      kind: 'lab.testing.stop-requested',
      message: 'end of testing mode requested',
      data: { operationId: testing.stopOperationId },
    });
    return { operationId: testing.stopOperationId, jobId };
  });
}
