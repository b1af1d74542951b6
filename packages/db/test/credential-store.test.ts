/**
 * The credential store: what it stores is sealed (the table never holds the secret), concurrent
 * first writers all end up with the one credential stored, and a wrong GLASSDOME_SECRET_KEY is an
 * error that does not carry the secret.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import { CredentialStore, createDb, type Db, migrateToLatest, SecretKeyError, upsertPlatform } from '../src/index';

let database: TestDatabase;
let db: Db;
const secretKey = randomBytes(32);

before(async () => {
  database = await createTestDatabase('credential-store');
  db = createDb(database.url);
  await migrateToLatest(db);
  for (const id of ['p1', 'p2']) {
    await upsertPlatform(db, {
      id,
      apiUrl: 'https://pve:8006',
      node: 'pve',
      tokenId: 'glassdome@pve!t',
      tlsFingerprint: null,
    });
  }
});

after(async () => {
  await db?.destroy();
  await database?.drop();
});

test('a stored credential reads back opened, and the table holds only its sealed form', async () => {
  const store = new CredentialStore(db, secretKey);
  assert.equal(await store.read('p1', 'api_token'), undefined);
  assert.equal(await store.readOrCreate('p1', 'api_token', () => 'token-secret-1'), 'token-secret-1');
  assert.equal(await store.read('p1', 'api_token'), 'token-secret-1');
  assert.equal(await store.read('p2', 'api_token'), undefined, 'credentials are per platform');
  const { rows } = await sql<{ sealed: string }>`select sealed from credentials`.execute(db);
  assert.equal(rows.length, 1);
  assert.ok(!rows[0]!.sealed.includes('token-secret-1'));
});

test('concurrent first writers all get the one credential that was stored first', async () => {
  const stores = Array.from({ length: 6 }, () => new CredentialStore(db, secretKey));
  const results = await Promise.all(
    stores.map((store, index) => store.readOrCreate('p1', 'race', () => `made-${index}`)),
  );
  assert.equal(new Set(results).size, 1);
  assert.match(results[0]!, /^made-\d$/);
  // An existing credential is kept: `make` is not even called.
  assert.equal(await stores[0]!.readOrCreate('p1', 'race', () => assert.fail('must not make a second')), results[0]);
});

test('opening with another secret key fails with SecretKeyError naming the variable, not the secret', async () => {
  const wrong = new CredentialStore(db, randomBytes(32));
  const error = await wrong.read('p1', 'api_token').then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof SecretKeyError);
  assert.match(error.message, /GLASSDOME_SECRET_KEY/);
  assert.ok(!error.message.includes('token-secret-1'));
});
