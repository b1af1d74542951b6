import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffLabSpecs } from './spec-diff';
import type { NormalisedSpec } from './spec-facts';

const base: NormalisedSpec = {
  name: 'web',
  copies: 2,
  ttlSeconds: 3600,
  onFailure: 'stop',
  networks: [
    { name: 'lan', cidr: '10.10.0.0/24', egress: 'deny', intra: 'allow' },
    { name: 'dmz', cidr: '10.20.0.0/24', egress: 'deny', intra: 'allow' },
  ],
  vms: [
    { name: 'target', os: 'ubuntu-22.04', cpus: 2, memoryMiB: 2048, diskGiB: 20, networks: ['lan'], provision: [] },
    { name: 'attacker', os: 'kali', cpus: 2, memoryMiB: 4096, diskGiB: 40, networks: ['lan'] },
  ],
  rules: [{ from: 'lan', to: 'dmz', ports: ['tcp/80'] }],
};

test('identical specs (keys in another order) diff to nothing', () => {
  const diff = diffLabSpecs(base, structuredClone({ ...base, vms: [...base.vms] }));
  assert.equal(diff.identical, true);
  assert.deepEqual(diff.totals.from, diff.totals.to);
});

test('networks, VMs, sizes, rules and settings are told apart by name, with totals before and after', () => {
  const next: NormalisedSpec = {
    ...base,
    copies: 3,
    networks: [{ name: 'lan', cidr: '10.10.0.0/23', egress: 'deny', intra: 'allow' }],
    vms: [
      {
        name: 'target',
        os: 'ubuntu-22.04',
        cpus: 4,
        memoryMiB: 2048,
        diskGiB: 20,
        networks: ['lan'],
        provision: [{ run: "echo 'secret-pw' | chpasswd" }],
      },
      { name: 'web', os: 'debian-12', count: 2, cpus: 1, memoryMiB: 1024, diskGiB: 10, networks: ['lan'] },
    ],
    rules: [{ from: 'lan', to: 'lan', ports: ['tcp/22'] }],
  };
  const diff = diffLabSpecs(base, next);
  assert.equal(diff.identical, false);
  assert.deepEqual(diff.settings, [{ field: 'copies', from: 2, to: 3 }]);
  assert.deepEqual(diff.networks.removed, [{ name: 'dmz', cidr: '10.20.0.0/24' }]);
  assert.deepEqual(diff.networks.changed, [
    { name: 'lan', changes: [{ field: 'cidr', from: '10.10.0.0/24', to: '10.10.0.0/23' }] },
  ]);
  assert.deepEqual(diff.vms.added, [{ name: 'web', os: 'debian-12', count: 2 }]);
  assert.deepEqual(diff.vms.removed, [{ name: 'attacker', os: 'kali', count: 1 }]);
  const target = diff.vms.changed.find((vm) => vm.name === 'target')!;
  assert.deepEqual(target.changes[0], { field: 'cpus', from: 2, to: 4 });
  assert.match(String(target.changes[1]?.note), /0 entries → 1 entries; content not shown/);
  assert.ok(!JSON.stringify(diff).includes('secret-pw'), 'provisioning content is never echoed');
  assert.equal(diff.rules.added.length, 1);
  assert.equal(diff.rules.removed.length, 1);
  assert.deepEqual(diff.totals.from, {
    copies: 2,
    vms: 4,
    vcpus: 8,
    memoryMiB: 12288,
    diskGiB: 120,
    networks: 4,
    ttlSeconds: 3600,
  });
  assert.deepEqual(diff.totals.to, {
    copies: 3,
    vms: 9,
    vcpus: 18,
    memoryMiB: 12288,
    diskGiB: 120,
    networks: 3,
    ttlSeconds: 3600,
  });
});
