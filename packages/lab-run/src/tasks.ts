/**
 * One task of a lab's graph, whichever worker runs it (the installer's VM tasks, the gateway's
 * network tasks): `runLabTask` wraps the work with the bookkeeping every task shares. It records the
 * step, moves the lab to `deploying` on its first task, stops at once when the lab was stopped, and —
 * once the work is done — records it and adds the tasks it made ready under the lab's root job.
 * "Done" is recorded before the add, so a crash between the two is repaired by the retry (the add is
 * idempotent). The record of "done" tells which of the lab's tasks are done then, so that is one
 * round trip to Postgres and one to Redis per finished task. A task that fails for good is recorded
 * and, under the `fail` policy, fails the lab and settles every VM of it that was still being deployed.
 *
 * A task it made ready may run in the same job right after it instead of in a job of its own
 * (`LabTaskOptions.inlineNext`: a VM's configure after its provision, on the connection and in the
 * process the provision left). Its step and events are recorded as any task's; in the queues it has
 * no job: the job of the task before it carries it (`LabTaskOutcome.inline`, with when it began).
 */
import {
  appendEvent,
  coalesced,
  finishLabTaskStep,
  finishStep,
  getStepDetail,
  type JsonValue,
  type LabVmWithSteps,
  startLabTasksIfRunning,
} from '@glassdome/db';
import {
  LAB_STOPPED,
  LAB_TRANSITIONS,
  type LabStatus,
  type LabTask,
  nominalRemainingPath,
  readyAfter,
  readyAfterReads,
  taskById,
} from '@glassdome/lab';
import { addLabTasks, isFinalAttempt, type JobContext } from '@glassdome/queue';
import type { LabRunContext } from './context';
import { type LabRecord, type LabStateRow, LabStoppedError, labGraph, labRecordOf } from './lab-record';
import { type LabRunState, labStateWatch, readLabRunState } from './lab-state-watch';
import { settleVmsOfStoppedLab } from './settle';
import { moveLab, moveVmsOfLab, vmStatusChange } from './transitions';
import { type StopWatch, stoppedBy, toldStopWatch } from './watch';

export interface LabTaskWork<P = undefined> {
  lab: LabRecord;
  task: LabTask;
  /** What `LabTaskOptions.prepare` made ready before the task started (undefined without one). */
  prepared: P | undefined;
  /** A VM task's VM with its steps so far, read by the statement that started the task (undefined if not found). */
  vm: LabVmWithSteps | undefined;
  /** Throws LabStoppedError once the lab was cancelled, failed or is being torn down: call it before each side effect. */
  checkStillRunning(): Promise<void>;
  /**
   * The same, from what the process's watch over its labs last read (at most one watch interval
   * old) instead of a read of its own: for checks between steps, where the watch's abort covers
   * the rest.
   */
  throwIfStopped(): void;
  /**
   * Aborted (reason: a LabStoppedError) as soon as the lab stops or a newer run takes over, and with
   * the job's own signal (timeout, shutdown): hand it to every wait and remote call of the work.
   */
  signal: AbortSignal;
  /** Runs work that must land once submitted (a clone): a stop of the lab meanwhile waits for it. */
  shield: StopWatch['shield'];
  /**
   * Says that the work's last statement recorded the task's step done (`recordVmSteps`'s
   * `labTaskDone`) and which of the lab's tasks were done then: only the add of those it made ready
   * follows.
   */
  recordedDone(labTasksDone: string[]): void;
  /**
   * The lab's tasks whose being done decides which tasks this one makes ready (its dependents and
   * their dependencies): the record of its end need return only those of the tasks done
   * (`recordVmSteps`'s `labTasksAsked`).
   */
  doneAsked: readonly string[];
}

export interface LabTaskOptions<P = undefined> {
  /**
   * What must be done before the task starts, since its start reads the task's VM (a provision task:
   * its lab placed on the cluster's nodes, which writes the VMs' nodes); the work finds it in
   * `prepared`. It also runs for a task that then stops (its lab stopped meanwhile), so it must be
   * harmless then.
   */
  prepare?: (task: LabTask) => Promise<P | undefined>;
  /** Turns an error into what the job should throw (e.g. a non-retryable Proxmox error into a PermanentError). */
  toJobError?: (error: unknown) => unknown;
  /** Runs when the task failed for good, before the lab's own bookkeeping (e.g. to fail the task's VM). */
  onFinalFailure?: (message: string) => Promise<void>;
  /**
   * A VM task's steps, in order, whose first not done the task's start records started (with the
   * event `runSteps` would record, `vmStepEvent`) when its VM is deploying already, the status in
   * which that start moves nothing (in another, the start would move the VM, which `runSteps`
   * records); the work finds which one in `vm.started_step` and must not record that start again.
   * Undefined: the start records none.
   */
  firstStep?: (task: LabTask) => readonly string[] | undefined;
  /**
   * How often the process reads (in one query for all its running tasks) whether their labs still
   * want them. @defaultValue 500
   */
  watchIntervalMs?: number;
  /**
   * Of the tasks a finished task made ready, the one its job runs itself right after it (with the
   * same work and options) instead of adding a job for it; undefined: each gets a job. Only a job's
   * first start does: one started again (after a crash, a lost lock, a failed attempt) finds the
   * task ready again and adds its job, so that no two runs of it overlap; and should the task fail
   * or be cut off in the job, its job is added then, which retries it with attempts of its own.
   */
  inlineNext?: (task: LabTask, ready: readonly LabTask[]) => LabTask | undefined;
}

export type LabTaskOutcome =
  | {
      taskId: string;
      added: string[];
      detail?: JsonValue;
      /** The task run next in the same job (`LabTaskOptions.inlineNext`), from `at` (ms since the epoch). */
      inline?: LabTaskOutcome & { at: number };
    }
  | { taskId: string; stopped: string }
  | { taskId: string; handedOff: string }
  | { skipped: 'lab gone' };

/** Why a task of `run` must stop, given the lab as it is now; undefined while it may go on. */
function labStopReason(current: LabRunState, run: number): LabStoppedError | undefined {
  if (!current) return new LabStoppedError('gone');
  if (LAB_STOPPED.has(current.status as LabStatus)) return new LabStoppedError(current.status);
  if (current.run !== run) return new LabStoppedError(`${current.status} (run ${current.run})`, true);
  return undefined;
}

type TaskStart = {
  name: string;
  vm: { copy: number; name: string; startFirstOf?: readonly string[] } | undefined;
};

/** The VM status in which a task's start records its first step started (`LabTaskOptions.firstStep`). */
const FIRST_STEP_STARTS_IN = vmStatusChange('deploy').to;

/**
 * The start of a lab's tasks, by lab: the tasks of one lab starting at once in this process are
 * started, and their VMs read, by one statement (see `coalesced`), not one each queued on the pool.
 */
const startTasks = new WeakMap<
  LabRunContext['db'],
  (labId: string, task: TaskStart) => Promise<{ row: LabStateRow | undefined; vm: LabVmWithSteps | undefined }>
>();

function startLabTask(db: LabRunContext['db'], labId: string, task: TaskStart) {
  let start = startTasks.get(db);
  if (!start) {
    start = coalesced(async (lab: string, tasks: TaskStart[]) => {
      const vms = tasks.flatMap((t) => (t.vm ? [t.vm] : []));
      const started = await startLabTasksIfRunning(
        db,
        lab,
        tasks.map((t) => t.name),
        [...LAB_STOPPED],
        vms,
        FIRST_STEP_STARTS_IN,
      );
      return tasks.map((t) => ({
        row: started.lab,
        vm: t.vm && started.vms.find((vm) => vm.copy === t.vm!.copy && vm.name === t.vm!.name),
      }));
    });
    startTasks.set(db, start);
  }
  return start(labId, task);
}

type LabTaskJob = { labId: string; taskId: string; context: JobContext };

export async function runLabTask<P = undefined>(
  ctx: LabRunContext,
  job: LabTaskJob,
  work: (w: LabTaskWork<P>) => Promise<JsonValue | undefined>,
  options: LabTaskOptions<P> = {},
): Promise<LabTaskOutcome> {
  const ran = await runOneLabTask(ctx, job, work, options, false);
  if (!('next' in ran)) return ran.outcome;
  return { ...ran.outcome, inline: await runInline(ctx, job, ran.lab, ran.next, work, options) };
}

/**
 * Runs `next` in `job` after the task before it (`LabTaskOptions.inlineNext`). Should it fail or be
 * cut off (the job's time bound, a shutdown, a lost lock), the job it would have had is added and
 * retries it from its first step not done; the job that ran the task before it then ends well.
 */
async function runInline<P>(
  ctx: LabRunContext,
  job: LabTaskJob,
  lab: LabRecord,
  next: LabTask,
  work: (w: LabTaskWork<P>) => Promise<JsonValue | undefined>,
  options: LabTaskOptions<P>,
): Promise<LabTaskOutcome & { at: number }> {
  const at = Date.now();
  try {
    const ran = await runOneLabTask(ctx, { ...job, taskId: next.id }, work, options, true);
    return { ...ran.outcome, at };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    job.context.log.warn({ task: next.id, err: error }, 'task run in the job before it failed: adding its own job');
    await addReady(ctx, lab, [next]);
    return { taskId: next.id, handedOff: message, at };
  }
}

/** Adds ready tasks as jobs under the lab's root, the longest remaining chain first. */
function addReady(ctx: LabRunContext, lab: LabRecord, ready: readonly LabTask[]) {
  return addLabTasks(
    ctx.producer,
    { labId: lab.id, requestId: lab.requestId ?? undefined, policy: lab.policy, run: lab.run },
    ready.map((t) => ({ id: t.id, kind: t.kind, remainingMs: nominalRemainingPath(lab.graph, t.id) })),
  );
}

/**
 * One task; `inline`: run in the job of the task before it, whose failure the caller hands to a job
 * of its own (so it is never the final attempt here).
 */
async function runOneLabTask<P>(
  ctx: LabRunContext,
  job: LabTaskJob,
  work: (w: LabTaskWork<P>) => Promise<JsonValue | undefined>,
  options: LabTaskOptions<P>,
  inline: boolean,
): Promise<{ outcome: LabTaskOutcome } | { outcome: LabTaskOutcome; lab: LabRecord; next: LabTask }> {
  const graph = await labGraph(ctx.db, job.labId);
  if (!graph) return { outcome: { skipped: 'lab gone' } };
  const task = taskById(graph, job.taskId);
  let prepared: P | undefined;
  let unprepared: { error: unknown } | undefined;
  try {
    prepared = options.prepare ? await options.prepare(task) : undefined;
  } catch (error) {
    unprepared = { error };
  }
  // The lab's state read, the task's step started and a VM task's VM read in one statement (one for
  // the lab's tasks starting at once); not started when the lab has stopped (the check below then
  // stops the task).
  // A first step is started with the task only when the preparation went well (its work runs next).
  const firstStep = unprepared ? undefined : options.firstStep?.(task);
  const { row, vm } = await startLabTask(ctx.db, job.labId, {
    name: task.id,
    vm:
      task.vmName === undefined
        ? undefined
        : { copy: task.copy, name: task.vmName, ...(firstStep ? { startFirstOf: firstStep } : {}) },
  });
  if (!row) return { outcome: { skipped: 'lab gone' } };
  const lab = labRecordOf(row, graph);
  const checkStillRunning = async () => {
    const reason = labStopReason(await readLabRunState(ctx.db, lab.id), lab.run);
    if (reason) throw reason;
  };
  // The process's one watch over its labs says when this lab stops, and tells the task's watch at
  // once: the task keeps no timer of its own.
  const intervalMs = options.watchIntervalMs ?? 500;
  let latest: LabStoppedError | undefined;
  const watch = toldStopWatch(job.context.signal);
  const unwatch = labStateWatch(ctx.db, intervalMs).watch(lab.id, (state) => {
    latest = labStopReason(state, lab.run);
    if (latest) watch.report(latest);
  });
  try {
    const early = labStopReason(lab, lab.run);
    if (early) throw early;
    if ((LAB_TRANSITIONS.start.from as readonly LabStatus[]).includes(lab.status))
      await moveLab(ctx.db, lab.id, 'start');
    // A preparation that failed fails the task as a failure of its work does.
    if (unprepared) throw unprepared.error;
    const throwIfStopped = () => {
      if (latest) throw latest;
    };
    let recorded: string[] | undefined;
    const asked = readyAfterReads(lab.graph, task.id);
    const detail = await work({
      lab,
      task,
      prepared,
      vm,
      checkStillRunning,
      throwIfStopped,
      signal: watch.signal,
      shield: watch.shield,
      recordedDone: (labTasksDone) => {
        recorded = labTasksDone;
      },
      doneAsked: asked,
    });
    const done = new Set(recorded ?? (await finishLabTaskStep(ctx.db, lab.id, task.id, detail, asked)));
    const ready = readyAfter(lab.graph, done, task.id);
    // Only a job's first start runs a task after its own (see `inlineNext`).
    const next = !inline && job.context.job.attemptsStarted === 1 ? options.inlineNext?.(task, ready) : undefined;
    const added = ready.filter((t) => t !== next);
    // Of the ready tasks waiting for a worker, the one with the longest chain still after it goes first.
    await addReady(ctx, lab, added);
    const outcome = { taskId: task.id, added: added.map((t) => t.id), ...(detail === undefined ? {} : { detail }) };
    return next ? { outcome, lab, next } : { outcome };
  } catch (error) {
    const stopped = stoppedBy(watch.signal, LabStoppedError, error);
    if (stopped) return { outcome: await stopTask(ctx, lab, task.id, stopped) };
    const jobError = options.toJobError ? options.toJobError(error) : error;
    if (!inline && isFinalAttempt(jobError, job.context.job)) {
      const message = error instanceof Error ? error.message : String(error);
      await options.onFinalFailure?.(message);
      await failLabTask(ctx, lab, task.id, message);
    }
    throw jobError;
  } finally {
    watch.stop();
    unwatch();
  }
}

/**
 * The task stopped because its lab did. Its step is recorded as skipped and the lab's VMs still in
 * flight are settled with the lab (a task may have moved its VM to `deploying` just after the lab
 * failed). A task superseded by a newer run leaves both alone: that run owns the step now.
 */
async function stopTask(ctx: LabRunContext, lab: LabRecord, taskId: string, stopped: LabStoppedError) {
  if (!stopped.superseded) {
    await finishStep(ctx.db, { labId: lab.id }, taskId, { status: 'skipped', error: `stopped: ${stopped.message}` });
    await settleVmsOfStoppedLab(ctx.db, lab.id);
  }
  return { taskId, stopped: stopped.status };
}

/** A task that failed for good: recorded, and under the `fail` policy the lab fails with every VM still in flight. */
async function failLabTask(ctx: LabRunContext, lab: LabRecord, taskId: string, message: string): Promise<void> {
  await finishStep(ctx.db, { labId: lab.id }, taskId, { status: 'failed', error: message });
  await appendEvent(ctx.db, { labId: lab.id, kind: 'lab.task.failed', message: `${taskId} failed: ${message}` });
  if (lab.policy !== 'fail') return;
  const reason = `${taskId}: ${message}`;
  if (await moveLab(ctx.db, lab.id, 'fail', { error: reason })) {
    await moveVmsOfLab(ctx.db, lab.id, 'fail', { error: `lab failed (${reason})` });
    await appendEvent(ctx.db, { labId: lab.id, kind: 'lab.failed', message: `${taskId} failed: ${message}` });
  }
}

/** The recorded result of one of the lab's tasks (e.g. a network task's bridge and tag). */
export function taskDetail(ctx: Pick<LabRunContext, 'db'>, labId: string, taskId: string) {
  return getStepDetail(ctx.db, { labId }, taskId);
}
