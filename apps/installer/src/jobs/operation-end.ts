import { appendEvent, finishLabOperation, listVmSnapshots, setVmSnapshotStatus } from '@glassdome/db';
import { loadOperation, settleRevert } from '@glassdome/lab-run';
import { isFinalAttempt, type JobContext } from '@glassdome/queue';
import type { InstallerContext } from '../context';

/**
 * Runs a lab operation's job; when it fails for good in a way its handler did not settle (Postgres
 * gone at the wrong moment, a bug), the operation still ends `failed` with the reason — a revert
 * also settles its lab and VMs — so no lab is left `reverting` or busy for ever.
 */
export async function endingOperation<T>(
  ctx: InstallerContext,
  operationId: string,
  context: JobContext,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isFinalAttempt(error, context.job)) {
      const message = error instanceof Error ? error.message : String(error);
      await failOperation(ctx, operationId, message).catch((failure: unknown) =>
        ctx.logger.error({ err: failure, operationId }, 'could not record the failed operation'),
      );
    }
    throw error;
  }
}

async function failOperation(ctx: InstallerContext, operationId: string, message: string): Promise<void> {
  const operation = await loadOperation(ctx.db, operationId);
  if (!operation || operation.status === 'done' || operation.status === 'failed') return;
  if (operation.kind === 'revert') {
    await settleRevert(ctx.db, operationId, { failed: new Map(), error: message });
    return;
  }
  if (operation.kind === 'snapshot' && operation.snapshot) {
    const rows = await listVmSnapshots(ctx.db, operation.lab_id, { name: operation.snapshot });
    for (const row of rows.filter((r) => r.operation_id === operationId && r.status === 'creating')) {
      await setVmSnapshotStatus(ctx.db, { vmId: row.vm_id, name: row.name }, { status: 'failed', error: message });
    }
  }
  await finishLabOperation(ctx.db, operationId, { status: 'failed', error: message });
  await appendEvent(ctx.db, {
    labId: operation.lab_id,
    kind: `lab.${operation.kind}.failed`,
    message: `${operation.kind}${operation.snapshot ? ` ${operation.snapshot}` : ''} failed: ${message}`,
    data: { operationId },
  });
}
