/**
 * The "Done when" of the client: 50 concurrent VMID allocations + full clones of one template end with
 * 50 distinct VMIDs, no duplicate VM and no storage-lock failure under the default admission limits,
 * while the same burst without admission control hits the simulator's storage lock timeouts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db, listVmidLeases, migrateToLatest, PostgresVmidLeaseStore } from '@glassdome/db';
import { createRedisPrefix, createTestDatabase, type TestDatabase, type TestRedis } from '@glassdome/testkit';
import { Redis } from 'ioredis';
import {
  Admission,
  cloneVm,
  createProxmox,
  type Proxmox,
  TaskFailedError,
  TransientError,
  VmidAllocator,
} from '../src/index';
import { type RunningSim, startSim } from './sim';

const burst = 50;
let sim: RunningSim;
let database: TestDatabase;
let db: Db;
let testRedis: TestRedis;
let redis: Redis;
let pve: Proxmox;

before(async () => {
  // Time scale 0.05 keeps PVE's ratio (8 s copy against a 10 s lock timeout) with a margin that survives
  // a busy machine.
  [sim, database] = await Promise.all([startSim({ timeScale: 0.05 }), createTestDatabase('proxmox-burst')]);
  db = createDb(database.url, { maxConnections: 20 });
  await migrateToLatest(db);
  testRedis = createRedisPrefix('proxmox-burst');
  redis = new Redis(testRedis.url);
  // No client-side retries: a storage-lock failure must show, not be papered over.
  pve = createProxmox(sim.config({ retry: { attempts: 1 } }));
});

after(async () => {
  pve?.close();
  await testRedis?.cleanup();
  redis?.disconnect();
  await db?.destroy();
  await database?.drop();
  await sim?.stop();
});

function runBurst(label: string, admission: Admission | undefined) {
  // A range twice the burst's size, so concurrent allocators do collide on rows and candidates.
  const vmids = new VmidAllocator({
    leases: new PostgresVmidLeaseStore(db),
    cluster: pve.cluster,
    range: { min: 2000, max: 2099 },
  });
  return Promise.allSettled(
    Array.from({ length: burst }, (_, index) =>
      cloneVm(
        { pve, vmids, admission },
        {
          platformId: `sim-${label}`,
          owner: `${label}-${index}`,
          sourceVmid: sim.info.templateVmid,
          name: `${label}-${index}`,
          storage: sim.info.storage,
          full: true,
          retry: { attempts: 1 },
        },
      ),
    ),
  );
}

test('50 allocations + full clones under admission control: 50 distinct VMIDs, no duplicate, no lock failure', async () => {
  const admission = new Admission({ redis, prefix: testRedis.prefix });
  const results = await runBurst('adm', admission);
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
  assert.deepEqual(failures, []);
  const cloned = results.map((result) => (result as PromiseFulfilledResult<{ vmid: number }>).value.vmid);
  assert.equal(new Set(cloned).size, burst, 'distinct VMIDs');

  const vms = (await pve.vms.list()).filter((vm) => vm.name.startsWith('adm-'));
  assert.equal(vms.length, burst, 'exactly one VM per request');
  assert.equal(new Set(vms.map((vm) => vm.name)).size, burst);
  for (const vm of vms) assert.ok(cloned.includes(vm.vmid));

  const leases = await listVmidLeases(db, 'sim-adm');
  assert.equal(leases.length, burst);
});

test('the same burst without admission control runs into storage lock timeouts', async () => {
  const results = await runBurst('raw', undefined);
  const lockTimeouts = results.filter(
    (result) =>
      result.status === 'rejected' &&
      result.reason instanceof TaskFailedError &&
      result.reason.reason instanceof TransientError &&
      /pve-storage-.*got timeout/.test(result.reason.exitstatus),
  );
  assert.ok(lockTimeouts.length > 0, 'some clones failed on the storage lock');
  const cloned = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value.vmid] : []));
  assert.equal(new Set(cloned).size, cloned.length, 'even then, no VMID was handed out twice');
});
