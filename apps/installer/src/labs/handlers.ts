import { appendEvent } from '@glassdome/db';
import type { Handlers, JobContext } from '@glassdome/queue';
import {
  beginLabTask,
  completeLabTask,
  failLabTask,
  findTask,
  type LabRecord,
  LabStoppedError,
  loadLab,
  taskDetail,
} from '@glassdome/runtime';
import type { InstallerContext } from '../context';
import {
  asJobError,
  configureSteps,
  isFinalFailure,
  type Placement,
  provisionSteps,
  requestPlacement,
} from '../deploy-vm';
import { runSteps } from '../step-runner';
import { loadVm, updateVm, type VmRow } from '../vm-record';
import { destroyLab } from './destroy-lab';
import { settleLab } from './settle-lab';

export function labHandlers(ctx: InstallerContext): Handlers {
  return {
    'lab.task': ({ labId, taskId }, context) => runLabTask(ctx, labId, taskId, context),
    'lab.run': ({ labId }) => settleLab(ctx, labId),
    'lab.destroy': ({ labId }, context) => destroyLab(ctx, labId, context),
  };
}

async function labVm(ctx: InstallerContext, lab: LabRecord, copy: number, name: string): Promise<VmRow> {
  const row = await ctx.db
    .selectFrom('vms')
    .select('id')
    .where('lab_id', '=', lab.id)
    .where('copy', '=', copy)
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  return (await loadVm(ctx.db, row.id))!;
}

/** A lab VM's NIC goes on the bridge and VLAN its first network's task leased. */
async function labPlacement(ctx: InstallerContext, lab: LabRecord, vm: VmRow, copy: number): Promise<Placement> {
  const first = (vm.spec as { networks?: { name: string }[] }).networks?.[0]?.name;
  if (!first) return requestPlacement(ctx, vm);
  const detail = (await taskDetail(ctx.db, lab.id, `c${copy}:net:${first}`)) as
    | { bridge?: string; tag?: number }
    | undefined;
  return { bridge: detail?.bridge ?? ctx.env.PROXMOX_BRIDGE, tag: detail?.tag };
}

async function runLabTask(ctx: InstallerContext, labId: string, taskId: string, context: JobContext) {
  const lab = await loadLab(ctx.db, labId);
  if (!lab) return { skipped: 'lab gone' };
  const task = findTask(lab, taskId);
  const vm = await labVm(ctx, lab, task.copy, task.vmName!);
  const stillRunning = async () => {
    const current = await loadLab(ctx.db, labId);
    if (
      !current ||
      current.status === 'cancelled' ||
      current.status === 'destroying' ||
      current.status === 'destroyed'
    ) {
      throw new LabStoppedError(current?.status ?? 'gone');
    }
  };
  try {
    await beginLabTask(ctx.db, lab, taskId);
    if (vm.status === 'queued') await updateVm(ctx.db, vm.id, { status: 'deploying' });
    const steps =
      task.kind === 'vm-provision'
        ? provisionSteps(ctx, vm, await labPlacement(ctx, lab, vm, task.copy), context.signal)
        : configureSteps(ctx, vm);
    const guarded = steps.map((step) => ({
      ...step,
      run: async (previousAttempts: number) => {
        await stillRunning();
        return step.run(previousAttempts);
      },
    }));
    await runSteps(ctx, { vmId: vm.id, labId }, guarded, context.signal);
    if (task.kind === 'vm-configure') {
      await updateVm(ctx.db, vm.id, { status: 'ready' });
      await appendEvent(ctx.db, { labId, vmId: vm.id, kind: 'vm.ready', message: `${vm.name} ready at ${vm.ip}` });
    }
    const added = await completeLabTask(ctx.db, ctx.producer, lab, taskId);
    return { taskId, added };
  } catch (error) {
    if (error instanceof LabStoppedError) return { taskId, stopped: error.status };
    if (isFinalFailure(error, context)) {
      const message = error instanceof Error ? error.message : String(error);
      await updateVm(ctx.db, vm.id, { status: 'failed', error: message });
      await failLabTask(ctx.db, lab, taskId, message);
    }
    throw asJobError(error);
  }
}
