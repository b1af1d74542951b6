import { LabGraphError } from './errors';
import { dependentsOf, topologicalOrder } from './queries';
import type { LabGraph, LabTask } from './types';

export interface CriticalPath {
  /** Earliest the whole graph can finish with unlimited workers: the longest chain's total duration. */
  lengthMs: number;
  /** Task ids along that chain, first to last. */
  path: string[];
}

/**
 * The longest chain of dependent tasks, weighted by `duration`: the lower bound on a lab's makespan
 * that a deployment is measured against. Ties go to the task earlier in graph order.
 */
export function criticalPath(graph: LabGraph, duration: (task: LabTask) => number): CriticalPath {
  const finish = new Map<string, number>();
  const before = new Map<string, string | undefined>();
  let last: string | undefined;
  for (const task of topologicalOrder(graph)) {
    const ms = duration(task);
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`duration of ${task.id} must be a finite number ≥ 0`);
    let start = 0;
    let previous: string | undefined;
    for (const dependency of task.dependsOn) {
      const end = finish.get(dependency)!;
      if (previous === undefined || end > start) {
        start = end;
        previous = dependency;
      }
    }
    finish.set(task.id, start + ms);
    before.set(task.id, previous);
    if (last === undefined || start + ms > finish.get(last)!) last = task.id;
  }
  const path: string[] = [];
  for (let id = last; id !== undefined; id = before.get(id)) path.unshift(id);
  return { lengthMs: last === undefined ? 0 : finish.get(last)!, path };
}

/**
 * For every task, the longest chain of tasks from its start to the end of the graph, its own
 * duration included: how long the lab takes at the least once this task starts. Among ready tasks
 * competing for workers, the one with the longest remaining chain going first keeps the makespan
 * nearest the critical path.
 */
export function remainingCriticalPaths(
  graph: LabGraph,
  duration: (task: LabTask) => number,
): ReadonlyMap<string, number> {
  const dependents = dependentsOf(graph);
  const remaining = new Map<string, number>();
  for (const task of topologicalOrder(graph).reverse()) {
    const ms = duration(task);
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`duration of ${task.id} must be a finite number ≥ 0`);
    let after = 0;
    for (const id of dependents.get(task.id)!) after = Math.max(after, remaining.get(id)!);
    remaining.set(task.id, ms + after);
  }
  return remaining;
}

/**
 * What a task of each kind takes on a real cluster, for ordering only (the API's dry run estimates
 * with the same figures): a network is an API call or two, provisioning is clone + boot + agent +
 * SSH, configuring runs the provision steps, the isolation check waits out the firewall and probes.
 */
export const NOMINAL_TASK_MS: Readonly<Record<LabTask['kind'], number>> = {
  network: 5_000,
  'vm-provision': 90_000,
  'vm-configure': 30_000,
  isolation: 20_000,
};

// Graphs are immutable values (a lab's is cached per process), so each is measured once.
const nominal = new WeakMap<LabGraph, ReadonlyMap<string, number>>();

/** The task's remaining critical path with every task at its kind's nominal duration (`NOMINAL_TASK_MS`). */
export function nominalRemainingPath(graph: LabGraph, taskId: string): number {
  let paths = nominal.get(graph);
  if (!paths) {
    paths = remainingCriticalPaths(graph, (task) => NOMINAL_TASK_MS[task.kind]);
    nominal.set(graph, paths);
  }
  const ms = paths.get(taskId);
  if (ms === undefined) throw new LabGraphError(`no task ${taskId} in the graph`);
  return ms;
}
