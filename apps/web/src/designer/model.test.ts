import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  criticalVms,
  type Design,
  designOf,
  emptyDesign,
  freeName,
  freeSpot,
  networkAt,
  pinIssues,
  renameNetwork,
  specOf,
  VM_SIZE,
} from './model';

function sample(): Design {
  const design = emptyDesign();
  design.networks.push({ id: 'n2', name: 'dmz', cidr: '10.20.0.0/24', position: { x: 400, y: 0 } });
  design.vms = [
    {
      id: 'a',
      name: 'kali',
      os: 'kali',
      networks: [{ name: 'lan' }],
      dependsOn: ['web'],
      sshKeys: [],
      provision: [],
      position: { x: 10, y: 50 },
    },
    {
      id: 'b',
      name: 'web',
      os: 'ubuntu-22.04',
      networks: [{ name: 'lan' }, { name: 'dmz', ip: '10.20.0.10' }],
      dependsOn: [],
      sshKeys: [],
      provision: ['echo hi'],
      position: { x: 350, y: 100 },
      memoryMiB: 2048,
    },
  ];
  design.rules = [{ from: 'lan', to: 'dmz', ports: ['tcp/80'] }];
  return design;
}

test('a design and its spec map to each other without losing anything, positions kept by name', () => {
  const design = sample();
  const spec = specOf(design);
  assert.deepEqual((spec.vms as { networks: unknown }[])[1]!.networks, ['lan', { name: 'dmz', ip: '10.20.0.10' }]);
  const back = designOf(JSON.parse(JSON.stringify(spec)), design);
  assert.deepEqual(back, design);
});

test('a VM added in the text gets a place of its own; one removed disappears', () => {
  const design = sample();
  const spec = specOf(design) as { vms: Record<string, unknown>[] };
  spec.vms = [spec.vms[0]!, { name: 'db', os: 'debian-12', networks: ['dmz'] }];
  const back = designOf(spec, design);
  assert.deepEqual(
    back.vms.map((vm) => vm.name),
    ['kali', 'db'],
  );
  assert.equal(back.vms[0]!.id, 'a');
  assert.ok(back.vms[1]!.position.x >= 400, 'placed in its network');
});

test('issues are pinned to the node and field they name', () => {
  const design = sample();
  const pinned = pinIssues(design, [
    { path: 'vms.1.memoryMiB', message: 'too small' },
    { path: 'networks.1.cidr', message: 'bad' },
    { path: 'rules.0.ports.0', message: 'bad port' },
  ]);
  assert.deepEqual(
    pinned.map((issue) => [issue.node, issue.field]),
    [
      ['vm:b', 'memoryMiB'],
      ['net:n2', 'cidr'],
      [undefined, 'rules.0.ports.0'],
    ],
  );
});

test('critical path task ids name VM entries; renaming a network follows it everywhere; names stay free', () => {
  const design = sample();
  assert.deepEqual(
    [...criticalVms(['c0:net:lan', 'c0:vm:web:provision', 'c0:vm:kali:configure'], design)],
    ['web', 'kali'],
  );
  const renamed = renameNetwork(design, 'n2', 'servers');
  assert.deepEqual(
    renamed.vms[1]!.networks.map((nic) => nic.name),
    ['lan', 'servers'],
  );
  assert.equal(renamed.rules[0]!.to, 'servers');
  assert.equal(freeName('Kali', ['kali', 'kali-2']), 'kali-3');
  assert.equal(networkAt(design, { x: 450, y: 100 })?.name, 'dmz');
  assert.equal(networkAt(design, { x: 350, y: 500 }), undefined);
});

test('a new VM never lands on another: a drop on a node, and VMs typed in the text, get free places', () => {
  const design = sample();
  const lan = design.networks[0]!;
  const occupied = design.vms[0]!.position;
  const moved = freeSpot(design.vms, lan, { x: occupied.x + 20, y: occupied.y + 10 });
  assert.notDeepEqual(moved, { x: occupied.x + 20, y: occupied.y + 10 });
  const clear = (a: { x: number; y: number }, b: { x: number; y: number }) =>
    Math.abs(a.x - b.x) >= VM_SIZE.width || Math.abs(a.y - b.y) >= VM_SIZE.height;
  assert.ok(clear(moved, occupied));
  assert.deepEqual(freeSpot([], lan, { x: 5, y: 6 }), { x: 5, y: 6 }, 'a free drop point is kept');

  const spec = specOf(design) as { vms: Record<string, unknown>[] };
  for (const name of ['one', 'two', 'three', 'four'])
    spec.vms.push({ name, os: 'debian-12', networks: [design.vms[0]!.networks[0]!.name] });
  const back = designOf(spec, design);
  for (const [i, a] of back.vms.entries())
    for (const b of back.vms.slice(i + 1)) assert.ok(clear(a.position, b.position), `${a.name} and ${b.name} overlap`);
});
