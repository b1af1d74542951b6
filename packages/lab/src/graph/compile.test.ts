import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLabSpec } from '../spec/parse';
import type { LabSpec } from '../spec/resolve';
import { DESIGN_EXAMPLE_YAML } from '../test-fixtures';
import { compileLabGraph } from './compile';
import { topologicalOrder } from './queries';
import type { LabGraph } from './types';

function specOf(input: unknown): LabSpec {
  const result = parseLabSpec(input);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  return result.spec;
}

function edges(graph: LabGraph): Record<string, readonly string[]> {
  return Object.fromEntries(graph.tasks.map((task) => [task.id, task.dependsOn]));
}

test('the design example compiles to network → provision → configure, with the dependsOn edge on configure', () => {
  const graph = compileLabGraph(specOf(DESIGN_EXAMPLE_YAML));
  assert.deepEqual(edges(graph), {
    'c0:net:lan': [],
    'c0:vm:target:provision': ['c0:net:lan'],
    'c0:vm:target:configure': ['c0:vm:target:provision'],
    'c0:vm:attacker:provision': ['c0:net:lan'],
    'c0:vm:attacker:configure': ['c0:vm:attacker:provision', 'c0:vm:target:configure'],
    'lab:isolation': ['c0:vm:target:configure', 'c0:vm:attacker:configure'],
  });
  const attacker = graph.tasks.find((task) => task.id === 'c0:vm:attacker:configure');
  assert.deepEqual(attacker, {
    id: 'c0:vm:attacker:configure',
    kind: 'vm-configure',
    copy: 0,
    vmName: 'attacker',
    specVmName: 'attacker',
    dependsOn: ['c0:vm:attacker:provision', 'c0:vm:target:configure'],
  });
  assert.deepEqual(compileLabGraph(specOf(DESIGN_EXAMPLE_YAML)), graph, 'compilation is deterministic');
});

test('count expands a VM into name-1..N, and dependsOn on it waits for every instance', () => {
  const graph = compileLabGraph(
    specOf({
      name: 'counted',
      networks: [
        { name: 'lan', cidr: '10.0.0.0/24' },
        { name: 'dmz', cidr: '10.0.1.0/24' },
      ],
      vms: [
        { name: 'web', os: 'debian-12', count: 3, networks: ['dmz', 'lan'] },
        { name: 'scanner', os: 'kali', networks: ['lan'], dependsOn: ['web'] },
      ],
    }),
  );
  assert.deepEqual(edges(graph), {
    'c0:net:lan': [],
    'c0:net:dmz': [],
    'c0:vm:web-1:provision': ['c0:net:dmz', 'c0:net:lan'],
    'c0:vm:web-1:configure': ['c0:vm:web-1:provision'],
    'c0:vm:web-2:provision': ['c0:net:dmz', 'c0:net:lan'],
    'c0:vm:web-2:configure': ['c0:vm:web-2:provision'],
    'c0:vm:web-3:provision': ['c0:net:dmz', 'c0:net:lan'],
    'c0:vm:web-3:configure': ['c0:vm:web-3:provision'],
    'c0:vm:scanner:provision': ['c0:net:lan'],
    'c0:vm:scanner:configure': [
      'c0:vm:scanner:provision',
      'c0:vm:web-1:configure',
      'c0:vm:web-2:configure',
      'c0:vm:web-3:configure',
    ],
    'lab:isolation': [
      'c0:vm:web-1:configure',
      'c0:vm:web-2:configure',
      'c0:vm:web-3:configure',
      'c0:vm:scanner:configure',
    ],
  });
  const web2 = graph.tasks.find((task) => task.id === 'c0:vm:web-2:provision');
  assert.equal(web2?.vmName, 'web-2');
  assert.equal(web2?.specVmName, 'web');
});

test('copies are independent: own networks, no edge crosses from one copy to another; the isolation check waits for all', () => {
  const graph = compileLabGraph(specOf({ ...parseable(DESIGN_EXAMPLE_YAML), copies: 3 }));
  assert.equal(graph.tasks.length, 16);
  const isolation = graph.tasks.at(-1)!;
  assert.equal(isolation.kind, 'isolation');
  assert.equal(isolation.dependsOn.length, 6, 'every VM of every copy');
  for (const task of graph.tasks.slice(0, -1)) {
    assert.ok(task.id.startsWith(`c${task.copy}:`));
    for (const dependency of task.dependsOn) assert.ok(dependency.startsWith(`c${task.copy}:`), dependency);
  }
  assert.deepEqual(
    graph.tasks.filter((task) => task.kind === 'network').map((task) => task.id),
    ['c0:net:lan', 'c1:net:lan', 'c2:net:lan'],
  );
  assert.equal(topologicalOrder(graph).length, 16);
});

/** The design example as data, so tests can change a field. */
function parseable(yamlText: string): Record<string, unknown> {
  const result = parseLabSpec(yamlText);
  assert.ok(result.ok);
  const { ttlSeconds: _ttlSeconds, ...input } = result.spec;
  return input;
}
