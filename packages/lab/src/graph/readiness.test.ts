import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LabGraphCycleError, LabGraphError } from './errors';
import {
  dependentsOf,
  readyAfter,
  readyAfterReads,
  rootTasks,
  topologicalOrder,
  transitiveDependents,
} from './queries';
import type { LabGraph, LabTask } from './types';

function graphOf(edges: Record<string, string[]>): LabGraph {
  return {
    tasks: Object.entries(edges).map(([id, dependsOn]): LabTask => ({ id, kind: 'vm-configure', copy: 0, dependsOn })),
  };
}

const ids = (tasks: readonly LabTask[]) => tasks.map((task) => task.id);

// A → B, A → C, B + C → D
const diamond = graphOf({ A: [], B: ['A'], C: ['A'], D: ['B', 'C'] });

test('diamond: A is the only root; D becomes ready only after both B and C', () => {
  assert.deepEqual(ids(rootTasks(diamond)), ['A']);
  const done = new Set<string>();
  done.add('A');
  assert.deepEqual(ids(readyAfter(diamond, done, 'A')), ['B', 'C']);
  done.add('B');
  assert.deepEqual(ids(readyAfter(diamond, done, 'B')), [], 'D still waits for C');
  done.add('C');
  assert.deepEqual(ids(readyAfter(diamond, done, 'C')), ['D']);
});

test('readiness in the other order, and with justDone not yet recorded in doneIds', () => {
  assert.deepEqual(ids(readyAfter(diamond, new Set(['A']), 'C')), []);
  assert.deepEqual(ids(readyAfter(diamond, new Set(['A', 'C']), 'B')), ['D']);
  // A retried finisher asks again: same answer, so the same (deterministic) children are re-added.
  assert.deepEqual(ids(readyAfter(diamond, new Set(['A', 'B', 'C']), 'B')), ['D']);
  assert.deepEqual(ids(readyAfter(diamond, new Set(['A', 'B', 'C', 'D']), 'B')), [], 'done tasks are not ready again');
});

test('simulated run: every task starts once, only after all its dependencies', () => {
  const graph = graphOf({ n1: [], n2: [], p1: ['n1'], p2: ['n1', 'n2'], c1: ['p1'], c2: ['p2', 'c1'], c3: ['p2'] });
  const done = new Set<string>();
  const started: string[] = [];
  const queue = ids(rootTasks(graph));
  while (queue.length > 0) {
    const id = queue.shift()!;
    const task = graph.tasks.find((candidate) => candidate.id === id)!;
    assert.ok(
      task.dependsOn.every((dependency) => done.has(dependency)),
      `${id} started early`,
    );
    started.push(id);
    done.add(id);
    queue.push(...ids(readyAfter(graph, done, id)));
  }
  assert.deepEqual([...started].sort(), ids(graph.tasks).sort());
  assert.equal(new Set(started).size, started.length);
});

test('dependentsOf, transitiveDependents and topologicalOrder', () => {
  assert.deepEqual(Object.fromEntries(dependentsOf(diamond)), { A: ['B', 'C'], B: ['D'], C: ['D'], D: [] });
  assert.deepEqual(ids(transitiveDependents(diamond, 'B')), ['D']);
  assert.deepEqual(ids(transitiveDependents(diamond, 'A')), ['B', 'C', 'D']);
  const scrambled = graphOf({ D: ['B', 'C'], C: ['A'], B: ['A'], A: [] });
  assert.deepEqual(ids(topologicalOrder(scrambled)), ['A', 'C', 'B', 'D']);
});

test('a cyclic or malformed graph is refused with a named error', () => {
  const cyclic = graphOf({ A: [], B: ['A', 'D'], C: ['B'], D: ['C'] });
  assert.throws(
    () => topologicalOrder(cyclic),
    (error: unknown) =>
      error instanceof LabGraphCycleError && error.message === 'task cycle: B → D → C → B' && error.cycle.length === 4,
  );
  assert.throws(() => rootTasks(graphOf({ A: ['ghost'] })), LabGraphError);
  assert.throws(() => readyAfter(diamond, new Set(), 'ghost'), /no task ghost/);
  const twice: LabGraph = { tasks: [...diamond.tasks, diamond.tasks[0]!] };
  assert.throws(() => dependentsOf(twice), /appears twice/);
});

test('readyAfterReads names every done task readyAfter looks at: the same answer from only those', () => {
  // A → B, A → C, B + C → D, E → D, A → F
  const graph = graphOf({ A: [], B: ['A'], C: ['A'], E: [], D: ['B', 'C', 'E'], F: ['A'] });
  assert.deepEqual(readyAfterReads(graph, 'C').sort(), ['B', 'C', 'D', 'E']);
  assert.deepEqual(readyAfterReads(graph, 'D'), []);
  const all = ['A', 'B', 'C', 'D', 'E', 'F'];
  // Every subset of the tasks as done: readyAfter answers the same from the subset readyAfterReads names.
  for (let mask = 0; mask < 1 << all.length; mask += 1) {
    const done = new Set(all.filter((_, i) => mask & (1 << i)));
    for (const justDone of all) {
      const asked = new Set(readyAfterReads(graph, justDone));
      const told = new Set([...done].filter((id) => asked.has(id)));
      assert.deepEqual(ids(readyAfter(graph, told, justDone)), ids(readyAfter(graph, done, justDone)), `${justDone}`);
    }
  }
});
