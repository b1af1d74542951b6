/**
 * Glassdome on a Sentinel-watched Redis (REDIS_URL=redis-sentinel://…/gdtest) whose master is
 * killed (SIGKILL) in the middle of a batch of deploys: the Sentinels promote the replica, every
 * process follows them to it, a deploy asked for meanwhile is refused with a 503 that did nothing
 * (then accepted when retried), and in the end every VM is ready exactly once — one VM in the
 * cluster and one VMID lease per deploy, none lost, none doubled.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db } from '@glassdome/db';
import { type RedisSentinelSet, startRedisSentinel, waitFor } from '@glassdome/testkit';
import { type Harness, startHarness } from './harness';

let sentinel: RedisSentinelSet;
let harness: Harness;
let db: Db;

before(async () => {
  sentinel = await startRedisSentinel({ downAfterMs: 1_000 });
  harness = await startHarness(
    {
      redisUrl: sentinel.url,
      queuePrefix: '{glassdome}',
      installers: 2,
      overseer: true,
      env: { WORKER_LOCK_SECONDS: '5', OVERSEER_REDRIVE_SECONDS: '2', OVERSEER_REDRIVE_GRACE_SECONDS: '10' },
    },
    // Clones of about a second, so the failover lands while deploys are in flight.
    { PVE_SIM_LATENCIES: JSON.stringify({ linkedClone: 100_000 }) },
  );
  db = createDb(harness.databaseUrl);
});
after(async () => {
  await db?.destroy();
  await harness?.stop();
  await sentinel?.stop();
});

async function simVms(): Promise<{ vmid: number; description: string }[]> {
  const state = (await harness.sim.admin('GET', '/state')) as {
    vms: Record<string, { config: Record<string, string> }>;
  };
  return Object.entries(state.vms)
    .filter(([, vm]) => vm.config.template !== '1')
    .map(([vmid, vm]) => ({ vmid: Number(vmid), description: String(vm.config.description ?? '') }));
}

/** POST /vms as a client does: a 503 (nothing was done, Redis unavailable) is retried after a pause. */
async function deploy(name: string): Promise<{ id: string; refused: number }> {
  for (let refused = 0; ; refused += 1) {
    const answer = await harness.api('POST', '/api/v1/vms', { name, os: 'ubuntu-22.04' });
    if (answer.status === 202) return { id: String(answer.body.id), refused };
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test('the master dies mid-deploy: the replica takes over and every deploy ends ready exactly once', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 8; i += 1) ids.push((await deploy(`failover-${i}`)).id);
  await waitFor(
    'clones under way',
    async () => {
      const running = await db
        .selectFrom('steps')
        .select('vm_id')
        .where('name', '=', 'clone')
        .where('status', 'in', ['running', 'done'])
        .execute();
      return running.length >= 3;
    },
    { intervalMs: 20, timeoutMs: 60_000 },
  );

  const oldMaster = sentinel.master.port;
  await sentinel.master.process.kill();
  // Deploys asked for while no master answers are refused with a 503 that did nothing, until the
  // replica is promoted; then accepted.
  let refused = 0;
  for (let i = 8; i < 10; i += 1) {
    const asked = await deploy(`failover-${i}`);
    ids.push(asked.id);
    refused += asked.refused;
  }
  await waitFor('the Sentinels to promote the replica', () => sentinel.currentMasterPort() === sentinel.replica.port, {
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  assert.notEqual(sentinel.currentMasterPort(), oldMaster);

  for (const id of ids) {
    const vm = await harness.waitForVm(id, ['ready', 'failed'], 120_000);
    assert.equal(vm.status, 'ready', `${id}: ${vm.error}`);
  }
  const vms = await simVms();
  for (const id of ids) {
    assert.equal(vms.filter((vm) => vm.description.includes(id)).length, 1, `exactly one VM in the cluster for ${id}`);
  }
  assert.equal(vms.length, ids.length, 'no VM beyond those deployed');
  const rows = await db.selectFrom('vms').select('name').execute();
  assert.equal(rows.length, ids.length, `the ${refused} refused attempts left no row`);
  const leases = await db.selectFrom('vmid_leases').select(['vmid', 'owner']).execute();
  assert.deepEqual(leases.map((lease) => lease.owner).sort(), [...ids].sort(), 'one VMID lease per VM');
});
