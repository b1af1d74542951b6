/**
 * A VM deployment as a pipeline of named, recorded steps: `provisionSteps` (the part that needs no
 * other VM) and `configureSteps` (what a lab's `dependsOn` orders), run by `runSteps`, which skips
 * the steps already done so a job that crashed or was handed back resumes at the first step not done.
 */
import type { JsonValue } from '@glassdome/db';
import { appendEvent, finishStep, listSteps, type StepOwner, startStep } from '@glassdome/db';
import type { InstallerContext } from './context';
import { postConfigure, verify, waitForSsh } from './steps/guest-steps';
import { withPermissionRepair } from './steps/permission';
import { cloneFromTemplate, configure, reserveVmid, start, waitForAgent } from './steps/proxmox-steps';
import type { VmRow } from './vm-record';

export interface Step {
  name: string;
  /** Runs the step; told how often it was tried before and the error its last try recorded, if any. */
  run: (previousAttempts: number, previousError?: string | null) => Promise<JsonValue | undefined>;
}

/** Where a VM's NIC goes: its own network (a lab's leased VLAN) or the request's bridge/tag. */
export interface Placement {
  bridge: string;
  tag: number | undefined;
}

export function requestPlacement(ctx: InstallerContext, vm: VmRow): Placement {
  return { bridge: vm.spec.network?.bridge ?? ctx.env.PROXMOX_BRIDGE, tag: vm.spec.network?.vlan };
}

/** Clone → configure → start → agent IP → SSH: the part of a deployment that needs no other VM. */
export function provisionSteps(ctx: InstallerContext, vm: VmRow, placement: Placement, signal: AbortSignal): Step[] {
  const repair = <T>(operation: () => Promise<T>) =>
    withPermissionRepair(ctx, { vmId: vm.id, labId: vm.lab_id }, operation, signal);
  return [
    { name: 'reserve-vmid', run: () => reserveVmid(ctx, vm) },
    { name: 'clone', run: () => repair(() => cloneFromTemplate(ctx, vm)) },
    { name: 'configure', run: () => repair(() => configure(ctx, vm, placement.bridge, placement.tag)) },
    { name: 'start', run: () => repair(() => start(ctx, vm)) },
    { name: 'wait-agent', run: (_attempts, previousError) => waitForAgent(ctx, vm, previousError) },
    { name: 'wait-ssh', run: () => waitForSsh(ctx, vm) },
  ];
}

/** Post-configuration and verification: what a lab's `dependsOn` orders. */
export function configureSteps(ctx: InstallerContext, vm: VmRow): Step[] {
  return [
    { name: 'post-configure', run: () => postConfigure(ctx, vm) },
    { name: 'verify', run: () => verify(ctx, vm) },
  ];
}

/**
 * Runs the named steps of one owner in order, skipping those already done. Each step's start, end
 * and error are recorded in Postgres and the event timeline; `before` runs ahead of every step (a
 * lab task checks there that its lab still runs).
 */
export async function runSteps(
  ctx: InstallerContext,
  owner: StepOwner & { vmId: string },
  steps: Step[],
  options: { signal: AbortSignal; before?: () => Promise<void> },
): Promise<void> {
  const recorded = new Map((await listSteps(ctx.db, owner)).map((s) => [s.name, s]));
  const events = { vmId: owner.vmId, labId: owner.labId ?? null };
  for (const step of steps) {
    const before = recorded.get(step.name);
    if (before?.status === 'done') continue;
    options.signal.throwIfAborted();
    await options.before?.();
    await startStep(ctx.db, owner, step.name);
    await appendEvent(ctx.db, { ...events, kind: 'vm.step.started', message: `${step.name} started` });
    try {
      const detail = await step.run(before?.attempts ?? 0, before?.error ?? null);
      await finishStep(ctx.db, owner, step.name, { status: 'done', ...(detail === undefined ? {} : { detail }) });
      await appendEvent(ctx.db, { ...events, kind: 'vm.step.done', message: `${step.name} done` });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await finishStep(ctx.db, owner, step.name, { status: 'failed', error: message });
      await appendEvent(ctx.db, { ...events, kind: 'vm.step.failed', message: `${step.name} failed: ${message}` });
      throw error;
    }
  }
}
