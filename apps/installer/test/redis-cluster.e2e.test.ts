/**
 * Glassdome on a real three-master Redis Cluster (REDIS_URL=redis-cluster://…): standalone VMs and a
 * lab (a BullMQ flow spanning the lab and network queues) deploy to ready, and every key Glassdome
 * wrote — queues, flows, admission semaphores, rate-limit counters — sits in the one slot of its
 * `{glassdome}` hash tag, so BullMQ's multi-key scripts never cross nodes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type RedisCluster, startRedisCluster } from '@glassdome/testkit';
import { type Harness, startHarness } from './harness';

let cluster: RedisCluster;
let harness: Harness;

before(async () => {
  cluster = await startRedisCluster(3);
  harness = await startHarness({ redisUrl: cluster.url, queuePrefix: '{glassdome}', installers: 2 });
});
after(async () => {
  await harness?.stop();
  await cluster?.stop();
});

async function simVmNames(): Promise<string[]> {
  const state = (await harness.sim.admin('GET', '/state')) as {
    vms: Record<string, { config: Record<string, string> }>;
  };
  return Object.values(state.vms)
    .filter((vm) => vm.config.template !== '1')
    .map((vm) => String(vm.config.name));
}

test("VMs and a lab deploy through a Redis Cluster, every key in the hash tag's one slot", async () => {
  const vmIds: string[] = [];
  for (let i = 0; i < 4; i += 1) {
    const accepted = await harness.api('POST', '/api/v1/vms', { name: `cluster-vm-${i}`, os: 'ubuntu-22.04' });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    vmIds.push(String(accepted.body.id));
  }
  const lab = await harness.api('POST', '/api/v1/labs', {
    name: 'cluster-lab',
    networks: [{ name: 'lan', cidr: '10.30.0.0/24' }],
    vms: [
      { name: 'a', os: 'ubuntu-22.04', networks: ['lan'] },
      { name: 'b', os: 'ubuntu-22.04', networks: ['lan'], dependsOn: ['a'] },
    ],
  });
  assert.equal(lab.status, 202, JSON.stringify(lab.body));

  for (const id of vmIds) {
    const vm = await harness.waitForVm(id, ['ready', 'failed'], 120_000);
    assert.equal(vm.status, 'ready', String(vm.error));
  }
  const labBody = await harness.waitForLab(String(lab.body.id), 120_000);
  assert.equal(labBody.status, 'ready', String(labBody.error));
  assert.equal((await simVmNames()).length, 6, 'one VM on the cluster per VM deployed');

  const keysPerNode = cluster.nodes.map((node) =>
    node.cli('--scan', '--pattern', '{glassdome}*').split('\n').filter(Boolean),
  );
  const holders = keysPerNode.filter((keys) => keys.length > 0);
  assert.equal(holders.length, 1, `Glassdome's keys live on one node: ${keysPerNode.map((keys) => keys.length)}`);
  const keys = holders[0]!;
  assert.ok(
    keys.some((key) => key.includes(':vm:')),
    'the vm queue is there',
  );
  assert.ok(
    keys.some((key) => key.includes(':lab:')),
    'the lab flow is there',
  );
  const owner = cluster.nodes[keysPerNode.indexOf(keys)]!;
  const slots = new Set(keys.slice(0, 50).map((key) => owner.cli('cluster', 'keyslot', key)));
  assert.equal(slots.size, 1, 'one slot');
});
