/**
 * renewOrInsertVmidLeases against a real Postgres: many asks in one statement, each answered as if
 * the asks had run one after another in order: a held lease renewed, a free id leased, an expired
 * lease taken over, a live one of another owner refused; two asks of one id in one call (the second
 * finds it taken, no error), an id a renewed lease holds asked by another, and one owner asking twice.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, reportingStatements, type TestDatabase } from '@glassdome/testkit';
import {
  createDb,
  type Db,
  insertVmidLease,
  listVmidLeases,
  migrateToLatest,
  PostgresVmidLeaseStore,
  renewOrInsertVmidLeases,
} from '../src/index';

let database: TestDatabase;
let db: Db;
before(async () => {
  database = await createTestDatabase('vmid_lease_batch');
  db = createDb(database.url);
  await migrateToLatest(db);
});
after(async () => {
  await db?.destroy();
  await database?.drop();
});

const HOUR = 3_600_000;

/** `renewOrInsertVmidLeases` through a handle that counts the statements sent. */
async function counted(platformId: string, asks: { owner: string; vmid: number; ttlMs?: number }[]) {
  let statements = 0;
  const counting = reportingStatements(db, () => statements++);
  const vmids = await renewOrInsertVmidLeases(
    counting,
    asks.map((ask) => ({ platformId, ttlMs: HOUR, ...ask })),
  );
  return { vmids, statements };
}

const leases = async (platformId: string) =>
  (await listVmidLeases(db, platformId)).map((lease) => `${lease.vmid}:${lease.owner}`);

test('one statement: a held lease renewed, a free id leased, an expired lease taken over, a live one refused', async () => {
  const p = 'batch-cases';
  assert.ok(await insertVmidLease(db, { platformId: p, vmid: 100, owner: 'holder', ttlMs: 1000 }));
  assert.ok(await insertVmidLease(db, { platformId: p, vmid: 103, owner: 'lapsed', ttlMs: 1 }));
  assert.ok(await insertVmidLease(db, { platformId: p, vmid: 104, owner: 'other', ttlMs: HOUR }));
  await sleep(20);
  const before = (await listVmidLeases(db, p)).find((lease) => lease.vmid === 100)!.expiresAt;
  const { vmids, statements } = await counted(p, [
    { owner: 'holder', vmid: 101 },
    { owner: 'fresh', vmid: 102 },
    { owner: 'successor', vmid: 103 },
    { owner: 'refused', vmid: 104 },
  ]);
  assert.deepEqual(vmids, [100, 102, 103, undefined]);
  assert.equal(statements, 1);
  assert.deepEqual(await leases(p), ['100:holder', '102:fresh', '103:successor', '104:other']);
  const renewed = (await listVmidLeases(db, p)).find((lease) => lease.vmid === 100)!.expiresAt;
  assert.ok(renewed.getTime() > before.getTime() + HOUR / 2, 'the held lease was renewed for the ttl asked');
});

test('two asks of one id: the first leases it, the second finds it taken; an id a renewed lease holds is refused', async () => {
  const p = 'batch-same-id';
  assert.ok(await insertVmidLease(db, { platformId: p, vmid: 206, owner: 'keeper', ttlMs: HOUR }));
  const { vmids, statements } = await counted(p, [
    { owner: 'first', vmid: 205 },
    { owner: 'second', vmid: 205 },
    { owner: 'keeper', vmid: 207 },
    { owner: 'late', vmid: 206 },
    { owner: 'free', vmid: 208 },
  ]);
  assert.deepEqual(vmids, [205, undefined, 206, undefined, 208]);
  assert.equal(statements, 1);
  assert.deepEqual(await leases(p), ['205:first', '206:keeper', '208:free']);
});

test('one owner asking twice: its second ask sees its first (one lease), or tries its own id when the first was refused', async () => {
  const p = 'batch-same-owner';
  assert.ok(await insertVmidLease(db, { platformId: p, vmid: 304, owner: 'other', ttlMs: HOUR }));
  const { vmids, statements } = await counted(p, [
    { owner: 'twice', vmid: 308 },
    { owner: 'refused-first', vmid: 304 },
    { owner: 'twice', vmid: 309 },
    { owner: 'refused-first', vmid: 310 },
  ]);
  assert.deepEqual(vmids, [308, undefined, 308, 310]);
  assert.equal(statements, 2, 'one more statement for the owners asking again');
  assert.deepEqual(await leases(p), ['304:other', '308:twice', '310:refused-first']);
  // The same owner on two platforms is two owners.
  const other = await counted('batch-same-owner-2', [{ owner: 'twice', vmid: 308 }]);
  assert.deepEqual(other, { vmids: [308], statements: 1 });
});

test('a statement that fails fails the whole call; the store answers a single ask through the same statement', async () => {
  const p = 'batch-fails';
  await assert.rejects(
    renewOrInsertVmidLeases(db, [
      { platformId: p, owner: 'fine', vmid: 400, ttlMs: HOUR },
      { platformId: p, owner: 'bad', vmid: 2 ** 31, ttlMs: HOUR },
    ]),
    /out of range/,
  );
  assert.deepEqual(await leases(p), []);
  const store = new PostgresVmidLeaseStore(db);
  assert.equal(await store.renewHeldOrAcquire({ platformId: p, owner: 'fine', vmid: 400, ttlMs: HOUR }), 400);
  assert.equal(await store.renewHeldOrAcquire({ platformId: p, owner: 'fine', vmid: 401, ttlMs: HOUR }), 400);
  assert.equal(await store.renewHeldOrAcquire({ platformId: p, owner: 'next', vmid: 400, ttlMs: HOUR }), undefined);
  assert.deepEqual(await renewOrInsertVmidLeases(db, []), []);
});
