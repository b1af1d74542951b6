import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reachabilityMatrix } from '../reachability/matrix';
import { parseLabSpec } from '../spec/parse';
import type { LabSpec } from '../spec/resolve';
import { DESIGN_EXAMPLE_YAML } from '../test-fixtures';
import { compileLabGraph, configureTaskId, isolationTaskId, networkTaskId, provisionTaskId } from './compile';
import { taskById, topologicalOrder } from './queries';
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
    'c0:isolation': ['c0:vm:target:configure', 'c0:vm:attacker:configure'],
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
    'c0:isolation': [
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

test('copies are independent; each copy has its own isolation check, after its VMs and the next copy’s provisioning', () => {
  const graph = compileLabGraph(specOf({ ...parseable(DESIGN_EXAMPLE_YAML), copies: 3 }));
  assert.equal(graph.tasks.length, 18);
  const checks = graph.tasks.filter((task) => task.kind === 'isolation');
  assert.deepEqual(
    checks.map((task) => [task.id, task.copy]),
    [
      ['c0:isolation', 0],
      ['c1:isolation', 1],
      ['c2:isolation', 2],
    ],
  );
  // Outside the checks, no edge crosses from one copy to another.
  for (const task of graph.tasks.filter((t) => t.kind !== 'isolation')) {
    assert.ok(task.id.startsWith(`c${task.copy}:`));
    for (const dependency of task.dependsOn) assert.ok(dependency.startsWith(`c${task.copy}:`), dependency);
  }
  // Copy n's check waits for its own VMs to be configured and for copy (n+1) % 3's VMs to exist (its
  // cross-copy probes aim at them), not for the rest of the class.
  assert.deepEqual(edges(graph)['c2:isolation'], [
    'c2:vm:target:configure',
    'c2:vm:attacker:configure',
    'c0:vm:target:provision',
    'c0:vm:attacker:provision',
  ]);
  assert.deepEqual(edges(graph)['c0:isolation'], [
    'c0:vm:target:configure',
    'c0:vm:attacker:configure',
    'c1:vm:target:provision',
    'c1:vm:attacker:provision',
  ]);
  assert.deepEqual(
    graph.tasks.filter((task) => task.kind === 'network').map((task) => task.id),
    ['c0:net:lan', 'c1:net:lan', 'c2:net:lan'],
  );
  assert.equal(topologicalOrder(graph).length, 18);
});

test('every VM a check probes at in another copy is provisioned before it: no probe is blocked by a missing target', () => {
  const spec = specOf({ ...parseable(DESIGN_EXAMPLE_YAML), copies: 4 });
  const graph = compileLabGraph(spec);
  const upstream = (id: string): Set<string> => {
    const seen = new Set<string>();
    const pending = [id];
    while (pending.length > 0) {
      for (const dependency of taskById(graph, pending.pop()!).dependsOn) {
        if (seen.has(dependency)) continue;
        seen.add(dependency);
        pending.push(dependency);
      }
    }
    return seen;
  };
  const probes = reachabilityMatrix(spec);
  assert.ok(probes.some((probe) => probe.toCopy === 'other' && probe.target === 'management'));
  assert.ok(probes.some((probe) => probe.toCopy === 'other' && probe.target === 'lab'));
  for (let copy = 0; copy < spec.copies; copy++) {
    const before = upstream(isolationTaskId(copy));
    const other = (copy + 1) % spec.copies;
    for (const probe of probes) {
      assert.ok(
        before.has(configureTaskId(copy, probe.fromVm)),
        `copy ${copy}: ${probe.fromVm} sends its probes ready`,
      );
      if (probe.toCopy !== 'other') continue;
      if (probe.toVm) assert.ok(before.has(provisionTaskId(other, probe.toVm)), `copy ${other}: ${probe.toVm}`);
      if (probe.toNetwork)
        assert.ok(before.has(networkTaskId(other, probe.toNetwork)), `copy ${other}: ${probe.toNetwork}`);
    }
  }
});

test('one copy: its check waits for its own VMs only', () => {
  const graph = compileLabGraph(specOf(DESIGN_EXAMPLE_YAML));
  assert.deepEqual(taskById(graph, 'c0:isolation').dependsOn, ['c0:vm:target:configure', 'c0:vm:attacker:configure']);
});

/** The design example as data, so tests can change a field. */
function parseable(yamlText: string): Record<string, unknown> {
  const result = parseLabSpec(yamlText);
  assert.ok(result.ok);
  const { ttlSeconds: _ttlSeconds, ...input } = result.spec;
  return input;
}
