/**
 * The guest key sealed in Postgres: replicas starting together all get the one key stored first, a
 * restart gets it back, and the public half is what goes into every VM's authorized keys.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createDb, type Db, migrateToLatest } from '@glassdome/db';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { ensureGuestKey, ensurePlatform, forgetLabCopyKeys, GuestKeys, labCopyGuestKey } from '../src/index';

let database: TestDatabase;
let db: Db;
const env = { GLASSDOME_SECRET_KEY: randomBytes(32).toString('base64') };

before(async () => {
  database = await createTestDatabase('runtime-guest-key');
  db = createDb(database.url);
  await migrateToLatest(db);
  await ensurePlatform(db, {
    PROXMOX_URL: 'https://127.0.0.1:8006',
    PROXMOX_NODE: 'pve',
    PROXMOX_TOKEN_ID: 'glassdome@pve!deploy',
  });
});

after(async () => {
  await db?.destroy();
  await database?.drop();
});

test('replicas starting at once share one sealed guest key, and a restart finds it again', async () => {
  const keys = await Promise.all(Array.from({ length: 4 }, () => ensureGuestKey(db, env)));
  assert.equal(new Set(keys.map((key) => key.privateKey)).size, 1);
  assert.match(keys[0]!.publicKey, /^ssh-ed25519 AAAA\S+ glassdome$/);
  const again = await ensureGuestKey(db, env);
  assert.deepEqual(again, keys[0]);
});

test('without GUEST_SSH_KEY_FILE or GLASSDOME_SECRET_KEY the error names both variables', async () => {
  await assert.rejects(ensureGuestKey(db, {}), /GUEST_SSH_KEY_FILE.*GLASSDOME_SECRET_KEY/);
});

test('another GLASSDOME_SECRET_KEY cannot open the stored key', async () => {
  await assert.rejects(
    ensureGuestKey(db, { GLASSDOME_SECRET_KEY: randomBytes(32).toString('base64') }),
    /cannot be opened with this GLASSDOME_SECRET_KEY/,
  );
});

test('each lab copy gets a key of its own, sealed, shared by concurrent callers, forgotten with the lab', async () => {
  const labId = '11111111-2222-4333-8444-555555555555';
  const [a, b, again] = await Promise.all([
    labCopyGuestKey(db, env, labId, 0),
    labCopyGuestKey(db, env, labId, 1),
    labCopyGuestKey(db, env, labId, 0),
  ]);
  assert.equal(a!.privateKey, again!.privateKey, 'one key per copy however many ask at once');
  assert.notEqual(a!.privateKey, b!.privateKey, 'copies do not share keys');
  assert.notEqual(a!.privateKey, (await ensureGuestKey(db, env)).privateKey, 'nor the global guest key');
  const rows = await db.selectFrom('credentials').select(['kind', 'sealed']).execute();
  const sealed = rows.filter((row) => row.kind.includes(labId));
  assert.equal(sealed.length, 2);
  for (const row of sealed)
    assert.ok(!row.sealed.includes('PRIVATE KEY') && !row.sealed.includes(a!.privateKey.slice(40, 80)));
  assert.equal(await forgetLabCopyKeys(db, labId), 2);
  const fresh = await labCopyGuestKey(db, env, labId, 0);
  assert.notEqual(fresh.privateKey, a!.privateKey, 'a forgotten key is never handed out again');
  await assert.rejects(labCopyGuestKey(db, {}, labId, 0), /GLASSDOME_SECRET_KEY/);
});

test('a VM of a lab gets its copy’s key, a VM of no lab the installation’s; no secret key: the installation’s for all', async () => {
  const labId = '22222222-3333-4444-8555-666666666666';
  const installation = await ensureGuestKey(db, env);
  const keys = new GuestKeys(db, env, installation);
  assert.equal(keys.perCopy, true);
  assert.equal((await keys.forVm({ lab_id: null, copy: null })).privateKey, installation.privateKey);
  const [first, second] = await Promise.all([
    keys.forVm({ lab_id: labId, copy: 1 }),
    keys.forVm({ lab_id: labId, copy: 1 }),
  ]);
  assert.equal(first.privateKey, second.privateKey);
  assert.equal(first.privateKey, (await labCopyGuestKey(db, env, labId, 1)).privateKey, 'the sealed copy key');
  assert.notEqual(first.privateKey, installation.privateKey);
  assert.notEqual((await keys.forVm({ lab_id: labId, copy: 0 })).privateKey, first.privateKey);

  const withoutSecret = new GuestKeys(db, {}, installation);
  assert.equal(withoutSecret.perCopy, false);
  assert.equal((await withoutSecret.forVm({ lab_id: labId, copy: 1 })).privateKey, installation.privateKey);
});
