import { appendEvent, findLabVm } from '@glassdome/db';
import { type LabTaskWork, moveVm, runLabTask, taskDetail } from '@glassdome/lab-run';
import type { JobContext } from '@glassdome/queue';
import type { InstallerContext } from '../context';
import { configureSteps, type Placement, provisionSteps, requestPlacement, runSteps } from '../pipeline';
import { loadVm, type VmRow } from '../vm-record';
import { asJobError } from './vm-deploy';

/** A lab VM's NIC goes on the bridge and VLAN its first network's task leased. */
async function labPlacement(ctx: InstallerContext, vm: VmRow, copy: number): Promise<Placement> {
  const first = vm.spec.networks?.[0]?.name;
  if (!first) return requestPlacement(ctx, vm);
  const detail = (await taskDetail(ctx, vm.lab_id!, `c${copy}:net:${first}`)) as
    | { bridge?: string; tag?: number }
    | undefined;
  return { bridge: detail?.bridge ?? ctx.env.PROXMOX_BRIDGE, tag: detail?.tag };
}

/** `lab.task` for a VM: its provision steps or its configure steps, inside the lab's bookkeeping. */
export function runLabVmTask(ctx: InstallerContext, labId: string, taskId: string, context: JobContext) {
  let vmId: string | undefined;
  return runLabTask(
    ctx,
    { labId, taskId, context },
    async ({ task, checkStillRunning }: LabTaskWork) => {
      const row = await findLabVm(ctx.db, { labId, copy: task.copy, name: task.vmName! });
      const vm = row && (await loadVm(ctx.db, row.id));
      if (!vm) throw new Error(`lab ${labId} has no VM ${task.vmName} in copy ${task.copy}`);
      vmId = vm.id;
      await moveVm(ctx.db, vm.id, 'deploy');
      const steps =
        task.kind === 'vm-provision'
          ? provisionSteps(ctx, vm, await labPlacement(ctx, vm, task.copy), context.signal)
          : configureSteps(ctx, vm);
      await runSteps(ctx, { vmId: vm.id, labId }, steps, { signal: context.signal, before: checkStillRunning });
      if (task.kind === 'vm-configure' && (await moveVm(ctx.db, vm.id, 'ready'))) {
        await appendEvent(ctx.db, { labId, vmId: vm.id, kind: 'vm.ready', message: `${vm.name} ready at ${vm.ip}` });
      }
      return undefined;
    },
    {
      toJobError: asJobError,
      onFinalFailure: async (message) => {
        if (vmId) await moveVm(ctx.db, vmId, 'fail', { error: message });
      },
    },
  );
}
