/**
 * A VM deployment as a pipeline of named, recorded steps: `provisionSteps` (the part that needs no
 * other VM) and `configureSteps` (what a lab's `dependsOn` orders), run by `runSteps`, which skips
 * the steps already done so a job that crashed or was handed back resumes at the first step not done.
 */
import type { JsonValue } from '@glassdome/db';
import {
  listSteps,
  type RecordedStep,
  recordVmSteps,
  type StepEvent,
  type StepOwner,
  type VmStatusChange,
  type VmStepRecord,
  type VmStepWrites,
  vmStepEvent,
} from '@glassdome/db';
import type { InstallerContext } from './context';
import { applyFirewall } from './steps/firewall';
import { postConfigure, verify, waitForSsh } from './steps/guest-steps';
import { guestWrites } from './steps/guest-trust';
import { withPermissionRepair } from './steps/permission';
import { cloneFromTemplate, configure, reserveVmid, start, waitForAgent } from './steps/proxmox-steps';
import type { VmRow } from './vm-record';

export interface Step {
  name: string;
  /** Runs the step; told how often it was tried before and the error its last try recorded, if any. */
  run: (previousAttempts: number, previousError?: string | null) => Promise<JsonValue | undefined>;
  /**
   * What the step learned of its VM (its VMID, address, host key), asked once it ran and written by
   * the statement that records it done, not by one of its own (see `VmStepWrites`).
   */
  writes?: () => VmStepWrites | undefined;
  /**
   * Runs before its start is recorded, which goes with its end (one statement fewer): only for a
   * short step that reads neither its tries nor its last error and whose repeat is harmless, since a
   * crash meanwhile leaves no trace of the try (the step is run again from pending).
   */
  quiet?: boolean;
  /**
   * Its end (done) may wait for a quiet step after it and be recorded with that one's end and the
   * next start (one statement fewer), along a chain of such steps: only for a step whose repeat is
   * harmless, since a crash while a quiet step after it runs leaves it running, and it runs again.
   */
  endWaits?: boolean;
}

/** One NIC as `configure` writes it (`netN` and `ipconfigN`). */
export interface NicPlacement {
  bridge: string;
  tag?: number | undefined;
  /** `ip=dhcp` or `ip=10.10.0.10/24[,gw=…]`. */
  ipconfig: string;
  /** Behind the VM's Proxmox firewall. */
  firewall: boolean;
}

/**
 * Where a VM's NICs go, in order. A lab VM has one per lab network (spec order) and then its
 * management NIC, the one Glassdome reaches it on; a standalone VM has one.
 */
export interface Placement {
  nics: NicPlacement[];
  managementNic: number;
}

/**
 * A standalone VM: one NIC on the configured bridge, with the request's address or DHCP; on a named
 * network of its project, that NIC goes on the network and a management NIC (DHCP, on the configured
 * bridge, the one Glassdome reaches it on) follows.
 */
export function requestPlacement(ctx: InstallerContext, vm: VmRow): Placement {
  const network = vm.spec.network;
  const ip = network?.ip && network.ip !== 'dhcp' ? network.ip : undefined;
  const ipconfig = ip ? `ip=${ip}${network?.gateway ? `,gw=${network.gateway}` : ''}` : 'ip=dhcp';
  const attached = vm.spec.attachment;
  if (attached) {
    return {
      nics: [
        { bridge: attached.bridge, tag: attached.tag, ipconfig, firewall: false },
        { bridge: ctx.env.PROXMOX_BRIDGE, ipconfig: 'ip=dhcp', firewall: false },
      ],
      managementNic: 1,
    };
  }
  return {
    nics: [{ bridge: ctx.env.PROXMOX_BRIDGE, ipconfig, firewall: false }],
    managementNic: 0,
  };
}

/** Clone → configure → start → agent IP → SSH: the part of a deployment that needs no other VM. */
export function provisionSteps(ctx: InstallerContext, vm: VmRow, placement: Placement, signal: AbortSignal): Step[] {
  const repair = <T>(operation: () => Promise<T>) =>
    withPermissionRepair(ctx, { vmId: vm.id, labId: vm.lab_id }, operation, signal);
  // A step's tries so far: its recorded attempts, plus each try a permission repair made within this
  // attempt (a clone refused at its task wait has been submitted, and must be looked for).
  const counted =
    <T>(work: (tries: number) => Promise<T>) =>
    (attempts: number) => {
      let tries = attempts;
      return repair(() => work(tries++));
    };
  return [
    // A lease of the VM's own (its repeat finds the same one): run quietly, its VMID written with its end.
    { name: 'reserve-vmid', run: () => reserveVmid(ctx, vm), writes: () => ({ vmid: vm.vmid! }), quiet: true },
    // A repeated clone finds the VM it made (as after a crash between its clone and its record), and
    // configure and firewall write the same config again: configure and firewall run quietly, the
    // three recorded with the start's start.
    { name: 'clone', run: counted((tries) => cloneFromTemplate(ctx, vm, tries)), endWaits: true },
    { name: 'configure', run: () => repair(() => configure(ctx, vm, placement)), quiet: true, endWaits: true },
    { name: 'firewall', run: () => applyFirewall(ctx, vm), quiet: true },
    { name: 'start', run: counted((tries) => start(ctx, vm, tries)) },
    {
      name: 'wait-agent',
      run: (_attempts, previousError) => waitForAgent(ctx, vm, placement, previousError),
      writes: () => guestWrites(vm),
    },
    { name: 'wait-ssh', run: () => waitForSsh(ctx, vm) },
  ];
}

/** The names of `configureSteps`, in order. */
export const CONFIGURE_STEP_NAMES = ['post-configure', 'verify'] as const;

/** Post-configuration and verification: what a lab's `dependsOn` orders. */
export function configureSteps(ctx: InstallerContext, vm: VmRow): Step[] {
  const [postConfigureStep, verifyStep] = CONFIGURE_STEP_NAMES;
  return [
    // Each item leaves its marker, so a repeat runs none twice: the verification (a read of the
    // guest) runs quietly after it, recorded with its end and the VM's move to ready.
    { name: postConfigureStep, run: () => postConfigure(ctx, vm), endWaits: true },
    { name: verifyStep, run: () => verify(ctx, vm), quiet: true },
  ];
}

export interface RunStepsOptions {
  signal: AbortSignal;
  /** Runs ahead of every step (a lab task checks there that its lab still runs). */
  before?: () => Promise<void>;
  /** The owner's steps as the caller already read them (read here otherwise). */
  recorded?: readonly RecordedStep[];
  /**
   * The first step to run as the caller's own statement already recorded it started (a lab task's
   * start, read with `recorded`): its start is not recorded again; it is recorded failed if the check
   * before it (`before`) stops the run.
   */
  started?: string;
  /** A status change of the VM that the first step started brings (queued → deploying). */
  onStart?: VmStatusChange;
  /**
   * A status change once every step is done (deploying → ready), recorded with the last step's end,
   * and the events recorded only if it took effect.
   */
  onDone?: { move: VmStatusChange; events: () => (StepEvent & { data?: JsonValue })[] };
  /**
   * The lab task these steps make up, recorded done with the last step's end; `recorded` is told
   * which of the tasks in `asked` were done then, from the same statement (all the lab's tasks done,
   * this one included, when `asked` is absent).
   */
  labTaskDone?: { task: string; recorded: (labTasksDone: string[]) => void; asked?: readonly string[] };
}

/**
 * Runs the named steps of one owner in order, skipping those already done. Each step's start, end
 * and error are recorded in Postgres and the event timeline, a step's end (with what it learned of
 * its VM, `Step.writes`) with the next step's start in one statement; a step is still recorded as
 * started before it runs, but for a quiet one (`Step.quiet`) and one the caller started
 * (`RunStepsOptions.started`). Returns whether `onDone`'s status change took effect (true without one).
 */
export async function runSteps(
  ctx: InstallerContext,
  owner: StepOwner & { vmId: string },
  steps: Step[],
  options: RunStepsOptions,
): Promise<boolean> {
  const rows: readonly RecordedStep[] = options.recorded ?? (await listSteps(ctx.db, owner));
  const recorded = new Map(rows.map((s) => [s.name, s]));
  // Ends that wait for the quiet step after them (`Step.endWaits`) go with the next record.
  let waiting: Ended[] = [];
  const record = (change: VmStepRecord) => {
    const now = performance.now();
    const earlier = waiting.map(({ at, name, event, outcome, writes, quietStart }) => ({
      name,
      event,
      endedMsAgo: now - at,
      ...(outcome.detail === undefined ? {} : { detail: outcome.detail }),
      ...(writes ? { writes } : {}),
      ...(quietStart ? { quietStart } : {}),
    }));
    waiting = [];
    return recordVmSteps(ctx.db, owner, earlier.length > 0 ? { ...change, earlier } : change);
  };
  let ended: Ended | undefined;
  let move = options.onStart;
  let startedByCaller = options.started;
  for (const step of steps) {
    const before = recorded.get(step.name);
    if (before?.status === 'done') continue;
    // Only the first step to run can have been started by the caller, and only alone.
    const preRecorded = step.name === startedByCaller && !ended && !move;
    startedByCaller = undefined;
    try {
      options.signal.throwIfAborted();
      await options.before?.();
    } catch (error) {
      // The step that ended is recorded even when the next does not start.
      if (ended) await record({ end: ended });
      if (preRecorded) await record({ end: failedEnd(step.name, error) });
      throw error;
    }
    // A quiet step's start is recorded with its end, as is the status change its start brings; one
    // after a step that ended is not quiet (that end is recorded at once, with its own time) unless
    // that end may wait for it (`Step.endWaits`), and then goes with it, with its own time.
    const quiet =
      step.quiet && !preRecorded && (!ended || ended.waits)
        ? { at: performance.now(), event: vmStepEvent(step.name, 'started') }
        : undefined;
    if (quiet && ended) {
      waiting.push(ended);
      ended = undefined;
    }
    if (!quiet && !preRecorded) {
      await record({ end: ended, start: { name: step.name, event: vmStepEvent(step.name, 'started') }, move });
      ended = undefined;
      move = undefined;
    }
    const ran = () => (quiet ? { quietStart: { ranMs: performance.now() - quiet.at, event: quiet.event } } : {});
    try {
      const detail = await step.run(before?.attempts ?? 0, before?.error ?? null);
      const writes = step.writes?.();
      ended = {
        name: step.name,
        outcome: { status: 'done', ...(detail === undefined ? {} : { detail }) },
        event: vmStepEvent(step.name, 'done'),
        ...(writes ? { writes } : {}),
        ...ran(),
        ...(step.endWaits ? { waits: true } : {}),
        at: performance.now(),
      };
    } catch (error) {
      await record({ end: { ...failedEnd(step.name, error), ...ran() }, move });
      throw error;
    }
  }
  // Every step was done already (or the only one run was quiet): the status change the first would
  // have brought is made alone.
  if (move) await record({ move });
  const { onDone, labTaskDone } = options;
  if (!ended && !onDone && !labTaskDone) return true;
  const { moved, labTasksDone } = await record({
    end: ended,
    ...(onDone ? { move: onDone.move, moved: onDone.events() } : {}),
    ...(labTaskDone ? { labTaskDone: labTaskDone.task } : {}),
    ...(labTaskDone?.asked ? { labTasksAsked: labTaskDone.asked } : {}),
  });
  if (labTaskDone) labTaskDone.recorded(labTasksDone ?? []);
  return onDone ? moved : true;
}

/** A step's end not recorded yet: whether it may wait for a quiet step after it, and when it was. */
type Ended = NonNullable<VmStepRecord['end']> & { waits?: boolean; at: number };

/** A step's end as failed with `error`. */
export function failedEnd(name: string, error: unknown): NonNullable<VmStepRecord['end']> {
  const message = error instanceof Error ? error.message : String(error);
  return { name, outcome: { status: 'failed', error: message }, event: vmStepEvent(name, 'failed', message) };
}
