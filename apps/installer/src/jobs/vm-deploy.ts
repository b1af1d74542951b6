import { appendEvent, planVmSteps } from '@glassdome/db';
import {
  checkVmStillWanted,
  moveVm,
  stoppedBy,
  VmStoppedError,
  vmStatusChange,
  vmStopReason,
  watchForStop,
} from '@glassdome/lab-run';
import { ProxmoxError } from '@glassdome/proxmox';
import { isFinalAttempt, type JobContext, PermanentError } from '@glassdome/queue';
import { boundTo, type InstallerContext } from '../context';
import { shieldSteps } from '../must-land';
import { configureSteps, provisionSteps, requestPlacement, runSteps } from '../pipeline';
import { loadVm } from '../vm-record';

/** Turns a non-retryable Proxmox error into a PermanentError so BullMQ stops retrying it. */
export function asJobError(error: unknown): unknown {
  if (error instanceof ProxmoxError && !error.retryable) return new PermanentError(error.message);
  return error;
}

/**
 * `vm.deploy`: every step of a standalone VM, in one job. Desired state wins: before each step the
 * VM must still be wanted, and a destroy requested meanwhile aborts the step in flight (the job's
 * signal is tied to the VM's row); the deploy then ends quietly and the tear-down removes whatever
 * it made.
 */
export async function deployVm(ctx: InstallerContext, vmId: string, context: JobContext): Promise<unknown> {
  const vm = await loadVm(ctx.db, vmId);
  if (!vm) throw new PermanentError(`VM ${vmId} does not exist`);
  if (vm.status === 'ready') return { vmId, status: 'ready' };
  if (!(await moveVm(ctx.db, vm.id, 'deploy', { error: null }))) {
    context.log.info({ vmId, status: vm.status }, 'not deploying a VM in this state');
    return { vmId, status: vm.status };
  }
  // The API kept the VM's plan on its row; its step rows are written now, in the read runSteps makes.
  const recorded = await planVmSteps(ctx.db, vm.id);
  const watch = watchForStop(() => vmStopReason(ctx.db, vm.id), context.signal);
  // Proxmox calls, waits and SSH commands of this deploy end with it (a destroy, a timeout, a lost
  // lock, shutdown).
  const job = boundTo(ctx, watch.signal);
  let ready: boolean;
  try {
    ready = await runSteps(
      job,
      { vmId: vm.id, labId: vm.lab_id },
      shieldSteps(
        [...provisionSteps(job, vm, requestPlacement(job, vm), watch.signal), ...configureSteps(job, vm)],
        watch.shield,
      ),
      {
        signal: watch.signal,
        recorded,
        before: () => checkVmStillWanted(ctx.db, vm.id),
        // Ready with the last step's end; the event only if the VM was still deploying.
        onDone: {
          move: vmStatusChange('ready'),
          events: () => [{ kind: 'vm.ready', message: `ready at ${vm.ip}`, data: { ip: vm.ip, vmid: vm.vmid } }],
        },
      },
    );
  } catch (error) {
    const stopped = stoppedBy(watch.signal, VmStoppedError, error);
    if (stopped) {
      context.log.info({ vmId, status: stopped.status }, 'deploy stopped: the VM is no longer wanted');
      return { vmId, stopped: stopped.status };
    }
    const jobError = asJobError(error);
    if (isFinalAttempt(jobError, context.job)) {
      const message = error instanceof Error ? error.message : String(error);
      await moveVm(ctx.db, vm.id, 'fail', { error: message });
      await appendEvent(ctx.db, { vmId: vm.id, kind: 'vm.failed', message });
    }
    throw jobError;
  } finally {
    watch.stop();
  }
  if (!ready) return { vmId, stopped: (await loadVm(ctx.db, vm.id))?.status };
  return { vmId, status: 'ready', ip: vm.ip, vmid: vm.vmid };
}
