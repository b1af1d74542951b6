import { type Db, getLab, getLabGraph, getLabState } from '@glassdome/db';
import {
  isLabStatus,
  type LabGraph,
  type LabSpec,
  type LabStatus,
  parseStoredLabGraph,
  parseStoredLabSpec,
} from '@glassdome/lab';
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

/**
 * Graphs by lab id. A lab's graph is written once, at deploy, and never changed, so every task of a
 * lab after the first on this process reads only the lab's small state row; the tasks that start
 * together before the first read ended share that read (60 provision tasks each reading and parsing
 * the graph kept a loaded installer busy for 200 ms).
 */
const graphs = new Map<string, Promise<LabGraph | undefined>>();
const GRAPHS_KEPT = 500;

/** The lab's graph, read and parsed once per process; undefined once the lab is gone. */
export function labGraph(db: Db, labId: string): Promise<LabGraph | undefined> {
  const known = graphs.get(labId);
  if (known) return known;
  // Written at deploy from compileLabGraph and never changed, so parsed once per process.
  const read = getLabGraph(db, labId).then((stored) =>
    stored === undefined ? undefined : parseStoredLabGraph(stored),
  );
  if (graphs.size >= GRAPHS_KEPT) graphs.delete(graphs.keys().next().value!);
  graphs.set(labId, read);
  // Only a graph is kept: a lab not found or a failed read is read again next time.
  read.then(
    (graph) => graph ?? graphs.delete(labId),
    () => graphs.delete(labId),
  );
  return read;
}

/** The lab's state row as `getLabState` reads it. */
export type LabStateRow = NonNullable<Awaited<ReturnType<typeof getLabState>>>;

/** A lab's record from its state row as read and its graph. */
export function labRecordOf(row: LabStateRow, graph: LabGraph): LabRecord {
  if (!isLabStatus(row.status)) throw new Error(`lab ${row.id} has an unknown status ${row.status}`);
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    graph,
    policy: row.on_failure === 'keep' ? 'keep' : 'fail',
    requestId: row.request_id,
    error: row.error,
    run: row.run,
  };
}

export async function loadLab(db: Db, labId: string): Promise<LabRecord | undefined> {
  const row = await getLabState(db, labId);
  if (!row) return undefined;
  const graph = await labGraph(db, labId);
  return graph && labRecordOf(row, graph);
}

const specs = new Map<string, LabSpec>();

/**
 * The lab's validated spec, as the API stored it at deploy, parsed (never changed afterwards, so kept
 * per process like the graph). The same object comes back for the same lab.
 */
export async function loadLabSpec(db: Db, labId: string): Promise<LabSpec> {
  const known = specs.get(labId);
  if (known) return known;
  const row = await getLab(db, labId);
  if (!row) throw new Error(`lab ${labId} is gone`);
  const spec = parseStoredLabSpec(row.spec);
  if (specs.size >= GRAPHS_KEPT) specs.delete(specs.keys().next().value!);
  specs.set(labId, spec);
  return spec;
}
