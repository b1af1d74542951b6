/**
 * VMID leases in Postgres as the allocator takes them: the first leases of VMs asking in one turn
 * (a lab's provision tasks starting) are taken by one statement, each VM its own id; a lease asked
 * for while that statement runs goes with the next; a statement that fails fails each of its asks.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db, listVmidLeases, migrateToLatest, PostgresVmidLeaseStore } from '@glassdome/db';

import { createTestDatabase, reportingStatements, type TestDatabase } from '@glassdome/testkit';
import { type ClusterApi, VmidAllocator } from '../src/index';

let database: TestDatabase;
let db: Db;
/** The statements sent through `counting`: their texts. */
let statements: string[] = [];
/** `db`, recording the statements sent through it. */
let counting: Db;
before(async () => {
  database = await createTestDatabase('vmid_lease_turns');
  db = createDb(database.url);
  await migrateToLatest(db);
  counting = reportingStatements(db, (sql) => statements.push(sql));
});
after(async () => {
  await db?.destroy();
  await database?.drop();
});

/** A cluster with no VMs: candidates are drawn from the whole range (no Proxmox needed here). */
const emptyCluster = { resources: async () => [] } as unknown as ClusterApi;

/** The statements that took (or renewed) leases of many VMs. */
const batches = () => statements.filter((sql) => sql.includes('unnest(')).length;

test('45 VMs allocating in one turn: one statement, each VM its own id; one asking meanwhile goes with the next', async () => {
  const vmids = new VmidAllocator({
    leases: new PostgresVmidLeaseStore(counting),
    cluster: emptyCluster,
    range: { min: 10_000, max: 10_099 },
  });
  statements = [];
  const owners = Array.from({ length: 45 }, (_, i) => `vm-${i}`);
  const first = Promise.all(owners.map((owner) => vmids.allocateVmid({ platformId: 'p', owner })));
  while (batches() === 0) await new Promise((resolve) => setImmediate(resolve));
  const meanwhile = vmids.allocateVmid({ platformId: 'p', owner: 'vm-late' });
  const got = await first;
  const late = await meanwhile;
  // Two VMs drawing one id (45 random picks in a range of 100): the second is refused and acquires
  // another (a statement of its own), as before.
  assert.equal(batches(), 2, statements.join('\n'));
  assert.equal(new Set([...got, late]).size, 46, 'each VM its own id');
  const leases = await listVmidLeases(db, 'p');
  assert.deepEqual(leases.map((lease) => lease.owner).sort(), [...owners, 'vm-late'].sort());
  for (const [i, owner] of owners.entries()) assert.equal(leases.find((l) => l.owner === owner)?.vmid, got[i]);
  // Asked again, each VM gets its lease back (renewed: the allocator remembers it leased them).
  assert.deepEqual(await Promise.all(owners.map((owner) => vmids.allocateVmid({ platformId: 'p', owner }))), got);
});

test('a statement that fails fails each ask of its turn; the next turn is asked anew', async () => {
  const store = new PostgresVmidLeaseStore(counting);
  statements = [];
  const asks = [
    { platformId: 'q', owner: 'a', vmid: 500, ttlMs: 60_000 },
    { platformId: 'q', owner: 'b', vmid: 2 ** 31, ttlMs: 60_000 },
    { platformId: 'q', owner: 'c', vmid: 502, ttlMs: 60_000 },
  ];
  const answers = await Promise.allSettled(asks.map((ask) => store.renewHeldOrAcquire(ask)));
  assert.deepEqual(
    answers.map((answer) => answer.status === 'rejected' && /out of range/.test(String(answer.reason))),
    [true, true, true],
  );
  assert.equal(batches(), 1);
  assert.deepEqual(await listVmidLeases(db, 'q'), []);
  assert.deepEqual(
    await Promise.all([store.renewHeldOrAcquire(asks[0]!), store.renewHeldOrAcquire(asks[2]!)]),
    [500, 502],
  );
  assert.equal(batches(), 2);
});
