import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db, listApiKeys, migrateToLatest, revokeApiKey } from '@glassdome/db';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { BOOTSTRAP_KEY_NAME, ensureAdminKey, principalOfKey } from '../src/auth/keys';

let database: TestDatabase;
let db: Db;
before(async () => {
  database = await createTestDatabase('admin_key');
  db = createDb(database.url);
  await migrateToLatest(db);
});
after(async () => {
  await db.destroy();
  await database.drop();
});

const FIRST = 'first-bootstrap-key-0123456789abcdef';
const SECOND = 'second-bootstrap-key-0123456789abcdef';

async function liveBootstrapKeys() {
  return (await listApiKeys(db)).filter((key) => key.name === BOOTSTRAP_KEY_NAME && !key.revoked_at);
}

test('restarts with the same GLASSDOME_ADMIN_KEY keep exactly one bootstrap key', async () => {
  const first = await ensureAdminKey(db, FIRST);
  assert.deepEqual({ ...first, id: undefined }, { id: undefined, created: true, replaced: 0, revoked: false });
  for (let restart = 0; restart < 3; restart++) {
    const again = await ensureAdminKey(db, FIRST);
    assert.deepEqual(again, { id: first.id, created: false, replaced: 0, revoked: false });
  }
  assert.equal((await listApiKeys(db)).length, 1);
  assert.equal((await principalOfKey(db, FIRST))?.role, 'admin');
});

test('a new GLASSDOME_ADMIN_KEY replaces the old one instead of adding a second admin', async () => {
  const second = await ensureAdminKey(db, SECOND);
  assert.equal(second.created, true);
  assert.equal(second.replaced, 1);
  assert.deepEqual(
    (await liveBootstrapKeys()).map((key) => key.id),
    [second.id],
  );
  assert.equal(await principalOfKey(db, FIRST), undefined, 'the old key no longer works');
  assert.equal((await principalOfKey(db, SECOND))?.role, 'admin');
});

test('a bootstrap key revoked through the API stays revoked at the next start', async () => {
  const { id } = await ensureAdminKey(db, SECOND);
  await revokeApiKey(db, id);
  const restarted = await ensureAdminKey(db, SECOND);
  assert.deepEqual(restarted, { id, created: false, replaced: 0, revoked: true });
  assert.equal(await principalOfKey(db, SECOND), undefined);
  assert.equal((await liveBootstrapKeys()).length, 0);
});
