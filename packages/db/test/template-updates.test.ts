/** A template's build updates: only the fields given change, so `ready` after `failed` keeps nothing stale by accident. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import {
  createDb,
  type Db,
  getTemplate,
  insertTemplate,
  migrateToLatest,
  updateTemplate,
  upsertPlatform,
} from '../src/index';

let database: TestDatabase;
let db: Db;

before(async () => {
  database = await createTestDatabase('template-updates');
  db = createDb(database.url);
  await migrateToLatest(db);
  await upsertPlatform(db, {
    id: 'p1',
    apiUrl: 'https://pve:8006',
    node: 'pve',
    tokenId: 'gd@pve!t',
    tlsFingerprint: null,
  });
});

after(async () => {
  await db?.destroy();
  await database?.drop();
});

test('updateTemplate changes the status and only the other fields it is given', async () => {
  const id = await insertTemplate(db, { platformId: 'p1', node: 'pve', os: 'debian-12', vmid: 9001, name: 'debian' });
  assert.ok(id);
  await updateTemplate(db, id, { status: 'failed', error: 'wget: 404' });
  assert.deepEqual(pick(await getTemplate(db, id)), ['failed', 'wget: 404', null]);
  await updateTemplate(db, id, { status: 'building' });
  assert.deepEqual(pick(await getTemplate(db, id)), ['building', 'wget: 404', null], 'error kept when not given');
  await updateTemplate(db, id, { status: 'ready', error: null, configDigest: 'abc123' });
  assert.deepEqual(pick(await getTemplate(db, id)), ['ready', null, 'abc123']);
  assert.equal(await getTemplate(db, '00000000-0000-4000-8000-000000000000'), undefined);
});

function pick(row: Awaited<ReturnType<typeof getTemplate>>) {
  return [row?.status, row?.error, row?.config_digest];
}
