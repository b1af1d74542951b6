/**
 * A lab is a BullMQ flow whose root job (`lab.run`) completes only after its last task. Flows are
 * trees, so the task DAG is encoded by adding each task under the root only once its last
 * dependency has finished: the API adds the tasks with no dependencies when it starts the flow, and
 * every finishing task adds the dependents it made ready before it returns, so the root always has
 * a pending child until the last task ends. Job ids are deterministic, so adding a task twice (a
 * retry after a crash between "done" and "added") is harmless.
 */
import type { FlowJob, JobsOptions } from 'bullmq';
import { JOBS, type JobName, QUEUES } from './catalog';
import { jobOptions, type Producer } from './producer';

export interface LabFlowTask {
  /** Task id from the lab graph, e.g. `c0:vm:web:provision`. */
  id: string;
  kind: 'network' | 'vm-provision' | 'vm-configure' | 'isolation';
  /**
   * The task's remaining critical path (the longest chain from its start to the lab's end), when
   * known: the job's priority, so that of the ready tasks waiting for a worker, the one the lab's end
   * depends on longest goes first. Without it the job has none (and goes before prioritized ones).
   */
  remainingMs?: number;
}

/** BullMQ's lowest priority (the largest number); 1 is the highest. */
const LOWEST_PRIORITY = 2 ** 21 - 1;

/**
 * A job priority from a remaining critical path, a second per step: longer chains get smaller
 * numbers, which BullMQ serves first (first in, first out among equal ones).
 */
export function priorityOf(remainingMs: number): number {
  return LOWEST_PRIORITY - Math.min(LOWEST_PRIORITY - 1, Math.max(0, Math.ceil(remainingMs / 1000)));
}

export type FailurePolicy = 'fail' | 'keep';

/**
 * BullMQ reserves ':' in ids; graph ids use it, so it becomes '.'. A retried lab runs its flow again
 * as run n+1, whose ids differ from the finished run's (BullMQ ignores an add of an existing id).
 */
export function labJobId(labId: string, taskId?: string, run = 0): string {
  const root = run === 0 ? `lab.${labId}` : `lab.${labId}.r${run}`;
  return taskId === undefined ? root : `${root}.${taskId.replaceAll(':', '.')}`;
}

function jobNameOf(task: LabFlowTask): JobName {
  return task.kind === 'network' ? 'network.create' : 'lab.task';
}

function taskOptions(
  producer: Producer,
  labId: string,
  task: LabFlowTask,
  policy: FailurePolicy,
  run: number,
): JobsOptions {
  return jobOptions(
    jobNameOf(task),
    {
      jobId: labJobId(labId, task.id, run),
      // 'fail': a task that fails for good fails the root at once, so the lab never waits forever.
      // 'keep': the root proceeds without it and settles the lab as degraded.
      ...(policy === 'fail' ? { failParentOnFailure: true } : { ignoreDependencyOnFailure: true }),
      ...(task.remainingMs === undefined ? {} : { priority: priorityOf(task.remainingMs) }),
    },
    producer.labTaskBackoffMs,
  );
}

export async function startLabFlow(
  producer: Producer,
  lab: {
    labId: string;
    requestId?: string | undefined;
    policy: FailurePolicy;
    rootTasks: LabFlowTask[];
    /** @defaultValue 0 */
    run?: number;
  },
): Promise<void> {
  const run = lab.run ?? 0;
  const children: FlowJob[] = lab.rootTasks.map((task) => ({
    name: jobNameOf(task),
    queueName: JOBS[jobNameOf(task)].queue,
    data: { labId: lab.labId, taskId: task.id, requestId: lab.requestId },
    opts: taskOptions(producer, lab.labId, task, lab.policy, run),
  }));
  await producer.flows.add({
    name: 'lab.run',
    queueName: QUEUES.lab,
    data: { labId: lab.labId, requestId: lab.requestId },
    opts: jobOptions('lab.run', { jobId: labJobId(lab.labId, undefined, run) }),
    children,
  });
}

/**
 * Adds tasks that just became ready under the lab's root job, the longest remaining chain first:
 * workers take jobs while later ones are still being added (a lab's 60 provision tasks at once), and
 * a job's priority orders only the jobs already there.
 */
export async function addLabTasks(
  producer: Producer,
  lab: { labId: string; requestId?: string | undefined; policy: FailurePolicy; run?: number },
  tasks: LabFlowTask[],
): Promise<void> {
  const run = lab.run ?? 0;
  const parent = { id: labJobId(lab.labId, undefined, run), queue: `${producer.prefix}:${QUEUES.lab}` };
  // Sent in this order on one connection, so Redis adds them in it; a task without a priority (served
  // before prioritized ones anyway) goes first.
  const ordered = [...tasks].sort(
    (a, b) => (b.remainingMs ?? Number.POSITIVE_INFINITY) - (a.remainingMs ?? Number.POSITIVE_INFINITY),
  );
  await Promise.all(
    ordered.map((task) => {
      const name = jobNameOf(task);
      return producer.queues[JOBS[name].queue].add(
        name,
        { labId: lab.labId, taskId: task.id, requestId: lab.requestId },
        { ...taskOptions(producer, lab.labId, task, lab.policy, run), parent },
      );
    }),
  );
}
