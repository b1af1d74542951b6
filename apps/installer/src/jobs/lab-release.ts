import { appendEvent, listVmsOfLab } from '@glassdome/db';
import { loadLab } from '@glassdome/lab-run';
import type { JobContext } from '@glassdome/queue';
import { boundTo, type InstallerContext } from '../context';
import { loadVm } from '../vm-record';
import { waitForFlowToEnd } from './lab-destroy';
import { nodeListings, removeVm } from './vm-destroy';

/**
 * `lab.release-vms`: a lab cancelled with `destroyVms` loses its VMs once its flow has ended (so no
 * clone lands after the sweep); the lab itself stays `cancelled` until it is deleted, which also
 * releases its networks.
 */
export async function releaseCancelledVms(ctx: InstallerContext, labId: string, context: JobContext) {
  const lab = await loadLab(ctx.db, labId);
  if (lab?.status !== 'cancelled') return { labId, skipped: `the lab is ${lab?.status ?? 'gone'}` };
  await waitForFlowToEnd(ctx, labId, context.signal);
  const job = boundTo(ctx, context.signal);
  let removed = 0;
  const listing = nodeListings(job);
  for (const row of await listVmsOfLab(ctx.db, labId)) {
    const vm = await loadVm(ctx.db, row.id);
    if (!vm || vm.status === 'destroyed') continue;
    await removeVm(job, vm, await listing(vm.node));
    removed++;
  }
  await appendEvent(ctx.db, {
    labId,
    kind: 'lab.vms-released',
    message: `${removed} VM(s) of the cancelled lab deleted`,
  });
  return { labId, removed };
}
