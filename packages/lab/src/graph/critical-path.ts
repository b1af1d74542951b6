import { topologicalOrder } from './queries';
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
