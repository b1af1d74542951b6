import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLabSpec } from '../spec/parse';
import { compileLabGraph } from './compile';
import { criticalPath, NOMINAL_TASK_MS, nominalRemainingPath, remainingCriticalPaths } from './critical-path';
import type { LabGraph, LabTask } from './types';

function graphOf(edges: Record<string, string[]>): LabGraph {
  return {
    tasks: Object.entries(edges).map(([id, dependsOn]): LabTask => ({ id, kind: 'network', copy: 0, dependsOn })),
  };
}

test('the longest weighted chain of a known graph', () => {
  // A(1) → B(5) → D(1); A → C(2) → D; C → E(10)
  const graph = graphOf({ A: [], B: ['A'], C: ['A'], D: ['B', 'C'], E: ['C'] });
  const ms: Record<string, number> = { A: 1, B: 5, C: 2, D: 1, E: 10 };
  assert.deepEqual(
    criticalPath(graph, (task) => ms[task.id]!),
    { lengthMs: 13, path: ['A', 'C', 'E'] },
  );
  ms.E = 2;
  assert.deepEqual(
    criticalPath(graph, (task) => ms[task.id]!),
    { lengthMs: 7, path: ['A', 'B', 'D'] },
  );
});

test('a lab: the dependsOn chain is critical, and parallel copies do not lengthen it', () => {
  const spec = (copies: number) => {
    const result = parseLabSpec({
      name: 'chain',
      copies,
      networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
      vms: [
        { name: 'db', os: 'debian-12', networks: ['lan'] },
        { name: 'app', os: 'debian-12', networks: ['lan'], dependsOn: ['db'] },
        { name: 'client', os: 'debian-12', networks: ['lan'] },
      ],
    });
    assert.ok(result.ok);
    return result.spec;
  };
  const weights = { network: 2000, 'vm-provision': 60000, 'vm-configure': 30000, isolation: 10000 } as const;
  const one = criticalPath(compileLabGraph(spec(1)), (task) => weights[task.kind]);
  assert.deepEqual(one, {
    lengthMs: 132000,
    path: ['c0:net:lan', 'c0:vm:db:provision', 'c0:vm:db:configure', 'c0:vm:app:configure', 'c0:isolation'],
  });
  assert.equal(criticalPath(compileLabGraph(spec(4)), (task) => weights[task.kind]).lengthMs, 132000);
});

test('edge cases: empty graph, zero durations, invalid durations', () => {
  assert.deepEqual(
    criticalPath({ tasks: [] }, () => 1),
    { lengthMs: 0, path: [] },
  );
  assert.deepEqual(
    criticalPath(graphOf({ A: [], B: ['A'] }), () => 0),
    { lengthMs: 0, path: ['A'] },
  );
  assert.throws(() => criticalPath(graphOf({ A: [] }), () => Number.NaN), RangeError);
  assert.throws(() => criticalPath(graphOf({ A: [] }), () => -1), RangeError);
});

test('remaining critical paths: each task plus its longest chain of dependents', () => {
  // A(1) → B(5) → D(1); A → C(2) → D; C → E(10)
  const graph = graphOf({ A: [], B: ['A'], C: ['A'], D: ['B', 'C'], E: ['C'] });
  const ms: Record<string, number> = { A: 1, B: 5, C: 2, D: 1, E: 10 };
  const remaining = remainingCriticalPaths(graph, (task) => ms[task.id]!);
  assert.deepEqual(Object.fromEntries(remaining), { A: 13, B: 6, C: 12, D: 1, E: 10 });
  assert.equal(remaining.get('A'), criticalPath(graph, (task) => ms[task.id]!).lengthMs);
  assert.throws(() => remainingCriticalPaths(graph, () => Number.NaN), RangeError);
});

test('nominal remaining paths order a copy’s tasks: the gateway VM that everything waits for before a leaf', () => {
  const result = parseLabSpec({
    name: 'chain',
    networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
    vms: [
      { name: 'gw', os: 'debian-12', networks: ['lan'] },
      { name: 'dc', os: 'debian-12', networks: ['lan'], dependsOn: ['gw'] },
      { name: 'ws', os: 'debian-12', networks: ['lan'], dependsOn: ['dc'] },
      { name: 'leaf', os: 'debian-12', networks: ['lan'] },
    ],
  });
  assert.ok(result.ok);
  const graph = compileLabGraph(result.spec);
  const at = (id: string) => nominalRemainingPath(graph, id);
  assert.ok(at('c0:vm:gw:provision') > at('c0:vm:leaf:provision'));
  assert.equal(at('c0:vm:gw:provision'), at('c0:net:lan') - NOMINAL_TASK_MS.network);
  assert.equal(at('c0:isolation'), NOMINAL_TASK_MS.isolation);
  assert.equal(at('c0:net:lan'), criticalPath(graph, (task) => NOMINAL_TASK_MS[task.kind]).lengthMs);
  assert.throws(() => nominalRemainingPath(graph, 'c9:nothing'), /no task/);
});
