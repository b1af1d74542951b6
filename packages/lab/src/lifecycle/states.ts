/**
 * The lab and VM state machines, declared once. Every status a lab, VM or step can hold is listed
 * here; every change of a lab's or VM's status is one of the named transitions below, applied only by
 * `@glassdome/lab-run` as a single conditional UPDATE (`… WHERE status IN (from)`), so two writers
 * racing over one row cannot both win. The database's CHECK constraints hold the same lists (a
 * lab-run test compares them), and `docs/architecture.md` shows these tables (checked too).
 */

export const LAB_STATUSES = [
  'queued',
  'deploying',
  'ready',
  'degraded',
  'reverting',
  'failed',
  'cancelled',
  'destroying',
  'destroyed',
] as const;
export type LabStatus = (typeof LAB_STATUSES)[number];

export const VM_STATUSES = [
  'queued',
  'deploying',
  'ready',
  'reverting',
  'failed',
  'cancelled',
  'destroying',
  'destroyed',
] as const;
export type VmStatus = (typeof VM_STATUSES)[number];

export const STEP_STATUSES = ['pending', 'running', 'done', 'failed', 'skipped'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export interface Transition<S extends string> {
  from: readonly S[];
  to: S;
  /** One line for the docs table. */
  why: string;
}

function transitions<S extends string>() {
  return <T extends Record<string, Transition<S>>>(table: T) => table;
}

/** Everything but `destroyed` may be torn down (a deploying lab too: its tasks stop at their next step). */
const LAB_LIVE = [
  'queued',
  'deploying',
  'ready',
  'degraded',
  'reverting',
  'failed',
  'cancelled',
  'destroying',
] as const;

export const LAB_TRANSITIONS = transitions<LabStatus>()({
  start: { from: ['queued'], to: 'deploying', why: 'its first task begins' },
  settleReady: { from: ['deploying'], to: 'ready', why: 'the flow ended with every VM ready' },
  settleDegraded: { from: ['deploying'], to: 'degraded', why: 'the flow ended with some VMs ready (keep policy)' },
  settleFailed: { from: ['deploying'], to: 'failed', why: 'the flow ended with no VM ready' },
  fail: { from: ['queued', 'deploying'], to: 'failed', why: 'a task failed for good under the fail policy' },
  cancel: { from: ['queued', 'deploying'], to: 'cancelled', why: 'cancelled through the API' },
  retry: { from: ['failed', 'degraded'], to: 'deploying', why: 'retry: what failed runs again as the next run' },
  reclone: { from: ['ready', 'degraded'], to: 'deploying', why: 'the overseer re-clones a VM deleted behind our back' },
  revert: { from: ['ready', 'degraded'], to: 'reverting', why: 'a revert to a snapshot (or a reset) begins' },
  settleReverted: { from: ['reverting'], to: 'ready', why: 'the revert ended and the lab verified again' },
  settleRevertDegraded: {
    from: ['reverting'],
    to: 'degraded',
    why: 'the revert ended with some VMs not ready (the reason on the lab)',
  },
  destroy: { from: LAB_LIVE, to: 'destroying', why: 'tear-down requested (API, or the overseer at expiry)' },
  destroyed: { from: ['destroying'], to: 'destroyed', why: 'every VM, network and lease released' },
});
export type LabTransition = keyof typeof LAB_TRANSITIONS;

const VM_LIVE = ['queued', 'deploying', 'ready', 'reverting', 'failed', 'cancelled', 'destroying'] as const;

export const VM_TRANSITIONS = transitions<VmStatus>()({
  deploy: { from: ['queued', 'deploying', 'failed'], to: 'deploying', why: 'a deploy attempt begins' },
  ready: { from: ['deploying'], to: 'ready', why: 'every step done' },
  fail: {
    from: ['queued', 'deploying', 'reverting'],
    to: 'failed',
    why: 'a step or its revert failed for good, or its lab failed',
  },
  cancel: { from: ['queued', 'deploying'], to: 'cancelled', why: 'its lab was cancelled' },
  requeue: { from: ['failed', 'cancelled'], to: 'queued', why: "its lab's retry" },
  reclone: { from: ['ready', 'failed', 'deploying'], to: 'queued', why: 'the overseer re-clones it' },
  revert: { from: ['ready', 'failed'], to: 'reverting', why: 'its lab reverts it to a snapshot' },
  reverted: { from: ['reverting'], to: 'ready', why: 'rolled back, started and verified again' },
  destroy: { from: VM_LIVE, to: 'destroying', why: 'tear-down requested' },
  destroyed: { from: ['destroying'], to: 'destroyed', why: 'deleted from Proxmox, leases released' },
});
export type VmTransition = keyof typeof VM_TRANSITIONS;

/** A lab in one of these is up for its class: watched by the overseer, open to snapshots and reverts. */
export const LAB_SERVING: ReadonlySet<LabStatus> = new Set(['ready', 'degraded']);

/** A lab in one of these takes no new work: its tasks stop at their next step boundary. */
export const LAB_STOPPED: ReadonlySet<LabStatus> = new Set(['failed', 'cancelled', 'destroying', 'destroyed']);

/** A VM in one of these is no longer being deployed. */
export const VM_SETTLED: ReadonlySet<VmStatus> = new Set(['ready', 'failed', 'cancelled', 'destroying', 'destroyed']);

export function isLabStatus(value: string): value is LabStatus {
  return (LAB_STATUSES as readonly string[]).includes(value);
}

export function isVmStatus(value: string): value is VmStatus {
  return (VM_STATUSES as readonly string[]).includes(value);
}

/** Markdown table of a state machine, as docs/architecture.md shows it. */
export function transitionTable(table: Record<string, Transition<string>>): string {
  const rows = Object.entries(table).map(
    ([name, t]) => `| \`${name}\` | ${t.from.map((s) => `\`${s}\``).join(', ')} | \`${t.to}\` | ${t.why} |`,
  );
  return ['| transition | from | to | when |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
