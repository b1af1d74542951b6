import { activeLabOperations, listVmsOfLab } from '@glassdome/db';
import { loadLab } from '@glassdome/lab-run';
import { type JobContext, labJobId, waitForJobEnd } from '@glassdome/queue';
import type { InstallerContext } from '../context';
import { loadVm } from '../vm-record';
import { nodeListings, removeVm } from './vm-destroy';

const rootSettleMs = 10 * 60_000;

/**
 * `lab.destroy`: tears down everything a lab owns. Safe while a deploy runs: the lab is already
 * `destroying`, so its tasks stop at their next step boundary; we wait (bounded) for the flow's root
 * to end so no clone lands after the sweep, then remove every VM and release its VMID lease. The
 * gateway's `network.release` then removes the lab's networks and marks it destroyed.
 */
export async function destroyLab(ctx: InstallerContext, labId: string, context: JobContext) {
  await waitForFlowToEnd(ctx, labId, context.signal);
  await waitForOperationsToEnd(ctx, labId, context.signal);
  const vms = await listVmsOfLab(ctx.db, labId);
  const listing = nodeListings(ctx);
  for (const { id } of vms) {
    const vm = await loadVm(ctx.db, id);
    if (vm && vm.status !== 'destroyed') await removeVm(ctx, vm, await listing(vm.node));
  }
  await ctx.producer.enqueue('network.release', { labId }, { jobId: `network-release.${context.job.id}` });
  return { labId, vmsRemoved: vms.length };
}

export async function waitForFlowToEnd(ctx: InstallerContext, labId: string, signal: AbortSignal): Promise<void> {
  const run = (await loadLab(ctx.db, labId))?.run ?? 0;
  const root = labJobId(labId, undefined, run);
  if (await waitForJobEnd(ctx.producer.queues.lab, root, { signal, timeoutMs: rootSettleMs, maxDelayMs: 250 })) return;
  ctx.logger.warn({ labId }, 'lab flow still running after the bound; tearing down anyway');
}

const operationsSettleMs = 2 * 60_000;

/**
 * A snapshot, revert or testing-mode change still running on the lab holds its VMs' locks in
 * Proxmox; those operations stop at once on a lab being torn down, so the wait is short (bounded).
 */
async function waitForOperationsToEnd(ctx: InstallerContext, labId: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + operationsSettleMs;
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    const running = (
      await activeLabOperations(ctx.db, labId, ['snapshot', 'revert', 'delete-snapshot', 'testing-start'])
    ).filter((operation) => operation.status === 'running');
    if (running.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  ctx.logger.warn({ labId }, 'lab operations still running after the bound; tearing down anyway');
}
