/**
 * VLAN leases in Postgres: a random free tag, one tag per owner (a retry gets its own back), no tag
 * shared under concurrent allocation, exhaustion as a non-retryable error, and a lab's tear-down
 * freeing its tags for the next lab.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db, listNetworkLeases, migrateToLatest, PostgresVlanLeaseStore } from '@glassdome/db';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { parseVlanRange, VlanAllocator, VlanExhaustedError } from '../src/index';

let database: TestDatabase;
let db: Db;

before(async () => {
  database = await createTestDatabase('proxmox-vlan');
  db = createDb(database.url);
  await migrateToLatest(db);
});

after(async () => {
  await db?.destroy();
  await database?.drop();
});

const allocator = (range: string) =>
  new VlanAllocator({ leases: new PostgresVlanLeaseStore(db), range: parseVlanRange(range) });
const labA = '00000000-0000-4000-8000-00000000000a';
const labB = '00000000-0000-4000-8000-00000000000b';

test('a free tag is picked at random (not guessable from another lab\'s), and an owner asking again gets its own back', async () => {
  const vlans = allocator('100-3999');
  const first = await vlans.allocateVlan({ platformId: 'p1', owner: `${labA}:net-a`, labId: labA, network: 'a' });
  const second = await vlans.allocateVlan({ platformId: 'p1', owner: `${labA}:net-b`, labId: labA, network: 'b' });
  assert.notEqual(first, second);
  for (const tag of [first, second]) assert.ok(tag >= 100 && tag <= 3999);
  // Two tags in a row being neighbours, as lowest-first gave every time, is a 1-in-~2000 event.
  assert.notDeepEqual([first, second], [100, 101]);
  assert.equal(await vlans.allocateVlan({ platformId: 'p1', owner: `${labA}:net-a`, labId: labA, network: 'a' }), first);
  const rows = await listNetworkLeases(db, { labId: labA });
  assert.deepEqual(
    rows.map((row) => [row.tag, row.owner, row.network]).sort((x, y) => Number(x[0]) - Number(y[0])),
    [
      [first, `${labA}:net-a`, 'a'],
      [second, `${labA}:net-b`, 'b'],
    ].sort((x, y) => Number(x[0]) - Number(y[0])),
  );
});

test('concurrent allocations never share a tag; a full range is a non-retryable VlanExhaustedError', async () => {
  const vlans = allocator('300-307');
  const owners = Array.from({ length: 8 }, (_, index) => `${labB}:net-${index}`);
  const tags = await Promise.all(
    owners.map((owner) => vlans.allocateVlan({ platformId: 'p2', owner, labId: labB, network: owner })),
  );
  assert.equal(new Set(tags).size, owners.length);
  assert.deepEqual(
    [...tags].sort((a, b) => a - b),
    [300, 301, 302, 303, 304, 305, 306, 307],
  );
  const exhausted = await vlans
    .allocateVlan({ platformId: 'p2', owner: 'one-too-many', labId: labB, network: 'x' })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  assert.ok(exhausted instanceof VlanExhaustedError, String(exhausted));
  assert.equal(exhausted.retryable, false);
  assert.match(exhausted.message, /300-307/);
  // Another platform has its own tags.
  const elsewhere = await vlans.allocateVlan({ platformId: 'p3', owner: 'elsewhere', labId: null, network: null });
  assert.ok(elsewhere >= 300 && elsewhere <= 307);
});

test("a lab's tear-down frees its tags for the next lab", async () => {
  const vlans = allocator('300-307');
  await vlans.releaseLab(labB);
  assert.deepEqual(await listNetworkLeases(db, { labId: labB }), []);
  // The range was full; now the next lab gets one of the freed tags.
  const next = await vlans.allocateVlan({ platformId: 'p2', owner: 'next-lab', labId: labA, network: 'c' });
  assert.ok(next >= 300 && next <= 307);
});

test('a VLAN range that is not first-last within 1-4094 is refused with the value named', () => {
  assert.deepEqual(parseVlanRange('100-3999'), { min: 100, max: 3999 });
  for (const bad of ['', '100', '0-10', '200-100', '100-5000', 'a-b']) {
    assert.throws(() => parseVlanRange(bad), new RegExp(`VLAN range.*${JSON.stringify(bad)}`));
  }
});
