import { type Db, getLab } from '@glassdome/db';
import { isLabStatus, type LabGraph, type LabSpec, type LabStatus, type LabTask, taskById } from '@glassdome/lab';
import type { FailurePolicy } from '@glassdome/queue';

export interface LabRecord {
  id: string;
  name: string;
  status: LabStatus;
  graph: LabGraph;
  policy: FailurePolicy;
  requestId: string | null;
  error: string | null;
  /** Which run of the flow is current (a retry or a re-clone starts the next). */
  run: number;
}

/**
 * The lab's state is not one its tasks may work in (cancelled, failed, being torn down), or a newer
 * run of its flow took over (`superseded`: a retry or re-clone runs the same tasks again).
 */
export class LabStoppedError extends Error {
  constructor(
    readonly status: string,
    readonly superseded = false,
  ) {
    super(superseded ? `lab moved on to ${status}` : `lab is ${status}`);
    this.name = 'LabStoppedError';
  }
}

export async function loadLab(db: Db, labId: string): Promise<LabRecord | undefined> {
  const row = await getLab(db, labId);
  if (!row) return undefined;
  if (!isLabStatus(row.status)) throw new Error(`lab ${labId} has an unknown status ${row.status}`);
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    // Written by the API from compileLabGraph and never changed: our own structure, not input.
    graph: row.graph as unknown as LabGraph,
    policy: row.on_failure === 'keep' ? 'keep' : 'fail',
    requestId: row.request_id,
    error: row.error,
    run: row.run,
  };
}

export function findTask(lab: LabRecord, taskId: string): LabTask {
  return taskById(lab.graph, taskId);
}

/** The lab's validated spec, as the API stored it at deploy (our own structure, like the graph). */
export async function loadLabSpec(db: Db, labId: string): Promise<LabSpec> {
  const row = await getLab(db, labId);
  if (!row) throw new Error(`lab ${labId} is gone`);
  return row.spec as unknown as LabSpec;
}
