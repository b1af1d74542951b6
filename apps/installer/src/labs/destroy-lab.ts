import { appendEvent, setLabStatus } from '@glassdome/db';
import { type JobContext, labJobId } from '@glassdome/queue';
import { loadLab } from '@glassdome/runtime';
import type { InstallerContext } from '../context';
import { removeVm } from '../destroy-vm';
import { loadVm } from '../vm-record';

const rootSettleMs = 10 * 60_000;

/**
 * Tears down everything a lab owns. Safe while a deploy runs: the lab is already `destroying`, so its
 * tasks stop at their next step boundary; we wait (bounded) for the flow's root to end so no clone
 * lands after the sweep, then remove every VM, release VMID and network leases, and mark it destroyed.
 */
export async function destroyLab(ctx: InstallerContext, labId: string, context: JobContext) {
  await waitForFlowToEnd(ctx, labId, context.signal);
  const vms = await ctx.db.selectFrom('vms').select('id').where('lab_id', '=', labId).execute();
  for (const { id } of vms) {
    const vm = await loadVm(ctx.db, id);
    if (vm && vm.status !== 'destroyed') await removeVm(ctx, vm);
  }
  await ctx.db.deleteFrom('network_leases').where('lab_id', '=', labId).execute();
  await setLabStatus(ctx.db, labId, 'destroyed', { error: null });
  await appendEvent(ctx.db, {
    labId,
    kind: 'lab.destroyed',
    message: `destroyed ${vms.length} VMs and released leases`,
  });
  return { labId, status: 'destroyed', vms: vms.length };
}

async function waitForFlowToEnd(ctx: InstallerContext, labId: string, signal: AbortSignal): Promise<void> {
  const run = (await loadLab(ctx.db, labId))?.run ?? 0;
  const deadline = Date.now() + rootSettleMs;
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    const root = await ctx.producer.queues.lab.getJob(labJobId(labId, undefined, run));
    const state = root ? await root.getState() : 'unknown';
    if (state === 'completed' || state === 'failed' || state === 'unknown') return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  ctx.logger.warn({ labId }, 'lab flow still running after the bound; tearing down anyway');
}
