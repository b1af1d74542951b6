/**
 * The bookkeeping every lab task shares, whichever worker runs it: its step row, the lab's status, and
 * — once it is done — adding the tasks it made ready under the lab's root job. Recording "done"
 * happens before the add, so a crash between the two is repaired by the retry (the add is idempotent).
 */

import type { JsonValue } from '@glassdome/db';
import { appendEvent, type Db, finishStep, listSteps, planSteps, setLabStatus, startStep } from '@glassdome/db';
import { type LabGraph, type LabTask, readyAfter } from '@glassdome/lab';
import { addLabTasks, type FailurePolicy, type Producer } from '@glassdome/queue';
import { sql } from 'kysely';

export interface LabRecord {
  id: string;
  status: string;
  graph: LabGraph;
  policy: FailurePolicy;
  requestId: string | null;
  /** Which run of the flow is current (a retry starts the next). */
  run: number;
}

/** Statuses in which a lab's tasks stop at their next step boundary. */
export const STOPPED_LAB_STATUSES = new Set(['cancelled', 'destroying', 'destroyed', 'failed']);

export class LabStoppedError extends Error {
  constructor(readonly status: string) {
    super(`lab is ${status}`);
    this.name = 'LabStoppedError';
  }
}

export async function loadLab(db: Db, labId: string): Promise<LabRecord | undefined> {
  const row = await db
    .selectFrom('labs')
    .select(['id', 'status', 'graph', 'on_failure', 'request_id', 'run'])
    .where('id', '=', labId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    status: row.status,
    graph: row.graph as unknown as LabGraph,
    policy: row.on_failure === 'keep' ? 'keep' : 'fail',
    requestId: row.request_id,
    run: row.run,
  };
}

export function findTask(lab: LabRecord, taskId: string): LabTask {
  const task = lab.graph.tasks.find((candidate) => candidate.id === taskId);
  if (!task) throw new Error(`lab ${lab.id} has no task ${taskId}`);
  return task;
}

/** Marks the task running, and the lab deploying if this is its first task. */
export async function beginLabTask(db: Db, lab: LabRecord, taskId: string): Promise<void> {
  if (STOPPED_LAB_STATUSES.has(lab.status)) throw new LabStoppedError(lab.status);
  await planSteps(db, { labId: lab.id }, [taskId]);
  await startStep(db, { labId: lab.id }, taskId);
  if (lab.status === 'queued') {
    await db
      .updateTable('labs')
      .set({ status: 'deploying', updated_at: sql`now()` })
      .where('id', '=', lab.id)
      .where('status', '=', 'queued')
      .execute();
  }
}

/** Records the task done, then adds every task whose last dependency it was. */
export async function completeLabTask(
  db: Db,
  producer: Producer,
  lab: LabRecord,
  taskId: string,
  detail?: JsonValue,
): Promise<string[]> {
  await finishStep(db, { labId: lab.id }, taskId, { status: 'done', ...(detail === undefined ? {} : { detail }) });
  const done = new Set((await listSteps(db, { labId: lab.id })).filter((s) => s.status === 'done').map((s) => s.name));
  const ready = readyAfter(lab.graph, done, taskId);
  await addLabTasks(
    producer,
    { labId: lab.id, requestId: lab.requestId ?? undefined, policy: lab.policy, run: lab.run },
    ready,
  );
  return ready.map((task) => task.id);
}

/** A task that failed for good: recorded, and under the `fail` policy the whole lab fails. */
export async function failLabTask(db: Db, lab: LabRecord, taskId: string, message: string): Promise<void> {
  await finishStep(db, { labId: lab.id }, taskId, { status: 'failed', error: message });
  await appendEvent(db, { labId: lab.id, kind: 'lab.task.failed', message: `${taskId} failed: ${message}` });
  if (lab.policy === 'fail' && !STOPPED_LAB_STATUSES.has(lab.status)) {
    await setLabStatus(db, lab.id, 'failed', { error: `${taskId}: ${message}` });
    await appendEvent(db, { labId: lab.id, kind: 'lab.failed', message: `${taskId} failed: ${message}` });
  }
}

/** The task's recorded result (e.g. a network task's bridge and tag). */
export async function taskDetail(db: Db, labId: string, taskId: string): Promise<JsonValue | undefined> {
  const row = await db
    .selectFrom('steps')
    .select('detail')
    .where('lab_id', '=', labId)
    .where('vm_id', 'is', null)
    .where('name', '=', taskId)
    .executeTakeFirst();
  return row?.detail ?? undefined;
}
