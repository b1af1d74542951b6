/** Admission slots in the real Redis, shared by several Admission instances as by several machines. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedisPrefix, type TestRedis } from '@glassdome/testkit';
import { Redis } from 'ioredis';
import { Admission, type AdmissionLimits, AdmissionTimeoutError } from '../src/index';

let testRedis: TestRedis;
const connections: Redis[] = [];

before(() => {
  testRedis = createRedisPrefix('proxmox-admission');
});

after(async () => {
  await testRedis.cleanup();
  for (const connection of connections) connection.disconnect();
});

/** One Admission per simulated machine, each with its own Redis connection. */
function machines(count: number, limits: Partial<AdmissionLimits>): Admission[] {
  return Array.from({ length: count }, () => {
    const redis = new Redis(testRedis.url);
    connections.push(redis);
    return new Admission({ redis, prefix: testRedis.prefix, limits: { retryIntervalMs: 5, ...limits } });
  });
}

/** Counts how many `work` calls overlap at most. */
function concurrencyMeter() {
  let running = 0;
  let peak = 0;
  return {
    get peak() {
      return peak;
    },
    async work(ms = 20) {
      running++;
      peak = Math.max(peak, running);
      await sleep(ms);
      running--;
    },
  };
}

test('full clones of one (node, storage) never exceed the limit across machines, and reach it', async () => {
  const meter = concurrencyMeter();
  const fleet = machines(3, { fullClonesPerStorage: 2, operationsPerNode: 8 });
  await Promise.all(
    Array.from({ length: 12 }, (_, index) =>
      fleet[index % 3]!.withCloneSlot({ node: 'pve01', storage: 'local-lvm', full: true }, () => meter.work()),
    ),
  );
  assert.equal(meter.peak, 2);
});

test('operations per node are capped across storages; linked clones take only a node slot', async () => {
  const meter = concurrencyMeter();
  const fleet = machines(2, { fullClonesPerStorage: 10, operationsPerNode: 3 });
  await Promise.all(
    Array.from({ length: 12 }, (_, index) => {
      const admission = fleet[index % 2]!;
      if (index % 3 === 0) return admission.withNodeSlot('pve02', () => meter.work());
      return admission.withCloneSlot({ node: 'pve02', storage: `store-${index % 4}`, full: index % 2 === 0 }, () =>
        meter.work(),
      );
    }),
  );
  assert.equal(meter.peak, 3);
});

test('a slot is refreshed while held past its TTL, so nobody else gets in meanwhile', async () => {
  // The hold lasts several TTLs; the TTL is long enough that a loaded CI machine still refreshes in time.
  const [first, second] = machines(2, { operationsPerNode: 1, slotTtlMs: 400 });
  const events: string[] = [];
  const long = first!.withNodeSlot('pve03', async () => {
    events.push('first-start');
    await sleep(1500);
    events.push('first-end');
  });
  await sleep(20);
  const waiting = second!.withNodeSlot('pve03', async () => {
    events.push('second-start');
  });
  await Promise.all([long, waiting]);
  assert.deepEqual(events, ['first-start', 'first-end', 'second-start']);
});

test('a caller that cannot get a slot in time gets AdmissionTimeoutError; the slot is released after errors', async () => {
  const [admission] = machines(1, { operationsPerNode: 1, acquireTimeoutMs: 50 });
  let release!: () => void;
  const held = admission!.withNodeSlot('pve04', () => new Promise<void>((resolve) => (release = resolve)));
  await sleep(10);
  await assert.rejects(
    admission!.withNodeSlot('pve04', async () => 'never'),
    AdmissionTimeoutError,
  );
  release();
  await held;
  await assert.rejects(
    admission!.withNodeSlot('pve04', async () => {
      throw new Error('work failed');
    }),
    /work failed/,
  );
  assert.equal(await admission!.withNodeSlot('pve04', async () => 'free again'), 'free again');
});
