import { findCycle } from './cycle';
import { LabGraphCycleError, LabGraphError } from './errors';
import type { LabGraph, LabTask } from './types';

interface GraphIndex {
  byId: ReadonlyMap<string, LabTask>;
  dependents: ReadonlyMap<string, readonly string[]>;
}

// Graphs are immutable values, so an index built once per graph object serves every query on it.
const indexes = new WeakMap<LabGraph, GraphIndex>();

function indexOf(graph: LabGraph): GraphIndex {
  const cached = indexes.get(graph);
  if (cached) return cached;
  const byId = new Map<string, LabTask>();
  const dependents = new Map<string, string[]>();
  for (const task of graph.tasks) {
    if (byId.has(task.id)) throw new LabGraphError(`task id ${task.id} appears twice`);
    byId.set(task.id, task);
    dependents.set(task.id, []);
  }
  for (const task of graph.tasks) {
    for (const dependency of task.dependsOn) {
      const list = dependents.get(dependency);
      if (!list) throw new LabGraphError(`task ${task.id} depends on unknown task ${dependency}`);
      list.push(task.id);
    }
  }
  const index = { byId, dependents };
  indexes.set(graph, index);
  return index;
}

/** The task with this id; throws LabGraphError for an id the graph does not have. */
export function taskById(graph: LabGraph, id: string): LabTask {
  const task = indexOf(graph).byId.get(id);
  if (!task) throw new LabGraphError(`no task ${id} in the graph`);
  return task;
}

/** For every task id, the ids of the tasks that depend on it directly. */
export function dependentsOf(graph: LabGraph): ReadonlyMap<string, readonly string[]> {
  return indexOf(graph).dependents;
}

/** Tasks with no dependencies: what a deployment starts with. */
export function rootTasks(graph: LabGraph): LabTask[] {
  indexOf(graph);
  return graph.tasks.filter((task) => task.dependsOn.length === 0);
}

/**
 * The tasks that `justDone` finishing makes ready: its dependents whose every dependency is now
 * done (`doneIds`, plus `justDone` itself). Calling it again with the same arguments gives the same
 * answer, so a retried finisher adds the same children again, which deterministic job ids absorb.
 */
export function readyAfter(graph: LabGraph, doneIds: ReadonlySet<string>, justDone: string): LabTask[] {
  const { byId, dependents } = indexOf(graph);
  taskById(graph, justDone);
  const isDone = (id: string) => id === justDone || doneIds.has(id);
  return (dependents.get(justDone) ?? [])
    .map((id) => byId.get(id)!)
    .filter((task) => !doneIds.has(task.id) && task.dependsOn.every(isDone));
}

/**
 * The tasks whose being done `readyAfter(graph, done, justDone)` reads: `justDone`'s dependents and
 * their dependencies (a record of the task's end need return only these of the lab's tasks done).
 */
export function readyAfterReads(graph: LabGraph, justDone: string): string[] {
  const { byId, dependents } = indexOf(graph);
  const ids = dependents.get(justDone) ?? [];
  return [...new Set(ids.flatMap((id) => [id, ...byId.get(id)!.dependsOn]))];
}

/** Everything downstream of `id` (not `id` itself): what can never start once `id` has failed for good. */
export function transitiveDependents(graph: LabGraph, id: string): LabTask[] {
  const { dependents } = indexOf(graph);
  taskById(graph, id);
  const seen = new Set<string>();
  const pending = [...(dependents.get(id) ?? [])];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    pending.push(...(dependents.get(next) ?? []));
  }
  return graph.tasks.filter((task) => seen.has(task.id));
}

/**
 * Every task after all of its dependencies; among tasks free to go at the same time, graph order
 * decides, so the order is deterministic. Throws LabGraphCycleError naming a cycle if there is one.
 */
export function topologicalOrder(graph: LabGraph): LabTask[] {
  const { byId, dependents } = indexOf(graph);
  const waiting = new Map(graph.tasks.map((task) => [task.id, task.dependsOn.length]));
  const order: LabTask[] = [];
  const position = new Map(graph.tasks.map((task, index) => [task.id, index]));
  let frontier = graph.tasks.filter((task) => task.dependsOn.length === 0);
  while (frontier.length > 0) {
    order.push(...frontier);
    const next: LabTask[] = [];
    for (const task of frontier) {
      for (const dependent of dependents.get(task.id)!) {
        const left = waiting.get(dependent)! - 1;
        waiting.set(dependent, left);
        if (left === 0) next.push(byId.get(dependent)!);
      }
    }
    frontier = next.sort((a, b) => position.get(a.id)! - position.get(b.id)!);
  }
  if (order.length < graph.tasks.length) {
    const stuck = graph.tasks.filter((task) => waiting.get(task.id)! > 0).map((task) => task.id);
    throw new LabGraphCycleError(findCycle(stuck, (id) => byId.get(id)!.dependsOn) ?? stuck);
  }
  return order;
}
