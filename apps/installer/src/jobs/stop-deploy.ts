import { liveJobs } from '@glassdome/queue';
import type { InstallerContext } from '../context';

/** A deploy of the VM kept running past the bound: the tear-down fails this attempt and is tried again. */
export class DeployStillRunningError extends Error {
  constructor(
    readonly vmId: string,
    readonly boundMs: number,
  ) {
    super(`a deploy of VM ${vmId} is still running after ${boundMs} ms; tear-down will be tried again`);
    this.name = 'DeployStillRunningError';
  }
}

/**
 * Before a standalone VM is torn down: removes its deploy attempts that have not started (waiting or
 * delayed for a retry) and waits, within `boundMs`, for a running one to end. The VM is already
 * `destroying`, which the running deploy notices within a second and stops on.
 */
export async function stopDeploysOf(
  ctx: InstallerContext,
  vmId: string,
  signal: AbortSignal,
  boundMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    signal.throwIfAborted();
    const deploys = (await liveJobs(ctx.producer.queues.vm)).filter(
      (job) => job.name === 'vm.deploy' && (job.data as { vmId?: string }).vmId === vmId,
    );
    let running = 0;
    for (const job of deploys) {
      if ((await job.getState()) === 'active') running++;
      // A job a worker took meanwhile is locked and refuses removal: it is waited for like the others.
      else await job.remove().catch(() => running++);
    }
    if (running === 0) return;
    if (Date.now() >= deadline) throw new DeployStillRunningError(vmId, boundMs);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
