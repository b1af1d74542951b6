/**
 * Warm pool jobs: `pool.fill` deploys the copies a pool lacks and tears down failed or extra ones;
 * `pool.prewarm` (fired by a job scheduler, e.g. before a class) sets the pool's size first; and
 * `lab.claim` puts a claimer's SSH keys on the trainee VMs of the copy it was handed.
 */
import {
  appendEvent,
  finishLabOperation,
  getPool,
  listVmsOfLab,
  setLabOperationProgress,
  setPoolSize,
} from '@glassdome/db';
import { fillPool } from '@glassdome/lab-run';
import { isFinalAttempt, type JobContext } from '@glassdome/queue';
import { DEFAULT_PLATFORM } from '@glassdome/runtime';
import { boundTo, type InstallerContext } from '../context';
import { ensureAuthorizedKeys } from '../steps/trainee-keys';
import { loadVm } from '../vm-record';
import { beginOperation, eachAtOnce } from './lab-snapshot';

export async function fillWarmPool(ctx: InstallerContext, poolId: string) {
  const result = await fillPool(ctx.db, poolId, { platformId: DEFAULT_PLATFORM, node: ctx.env.PROXMOX_NODE });
  // The copies' flows and tear-downs are in the outbox; the relays send them within a second.
  return result;
}

export async function prewarmPool(ctx: InstallerContext, poolId: string, size: number) {
  const pool = await getPool(ctx.db, poolId, { kind: 'all' });
  if (!pool) return { poolId, skipped: 'pool gone' };
  if (pool.size !== size) {
    await setPoolSize(ctx.db, poolId, size);
    await appendEvent(ctx.db, {
      kind: 'pool.prewarm',
      project: pool.project,
      message: `pool ${pool.name}: scheduled pre-warm sets its size from ${pool.size} to ${size}`,
      data: { poolId },
    });
  }
  return fillWarmPool(ctx, poolId);
}

/** The claimer's keys (already in the trainee VMs' stored specs) onto the guests, all VMs at once. */
export async function handOverClaim(ctx: InstallerContext, operationId: string, context: JobContext) {
  const operation = await beginOperation(ctx, operationId);
  if (!operation) return { operationId, skipped: true };
  const job = boundTo(ctx, context.signal);
  const vms = (await listVmsOfLab(ctx.db, operation.lab_id)).filter((vm) => vm.status === 'ready');
  let done = 0;
  const failures = await eachAtOnce(
    vms,
    (vm) => vm.name,
    async (row) => {
      const vm = await loadVm(ctx.db, row.id);
      if (!vm) return;
      if ((await ensureAuthorizedKeys(job, vm, vm.spec.cloudInit.sshKeys)) > 0) {
        await setLabOperationProgress(ctx.db, operation.id, ++done);
      }
    },
  );
  if (failures.size > 0) {
    const error = [...failures].map(([vm, message]) => `${vm}: ${message}`).join('; ');
    if (!isFinalAttempt(new Error(error), context.job)) throw new Error(error);
    await finishLabOperation(ctx.db, operation.id, { status: 'failed', error });
    return { operationId, failed: failures.size };
  }
  await finishLabOperation(ctx.db, operation.id, { status: 'done' });
  await appendEvent(ctx.db, {
    labId: operation.lab_id,
    kind: 'lab.claim.keys',
    message: `the claimer's SSH keys are on ${done} VM(s)`,
    data: { operationId },
  });
  return { operationId, vms: done };
}
