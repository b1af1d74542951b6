import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db, migrateToLatest, revokeApiKey } from '@glassdome/db';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { generateApiKey, hashApiKey, sharedKeyLookups, storeApiKey } from '../src/auth/keys';

let database: TestDatabase;
let db: Db;
let queries = 0;
let counted: Db;
before(async () => {
  database = await createTestDatabase('key_lookups');
  db = createDb(database.url);
  await migrateToLatest(db);
  // The same handle, counting the queries started through it: a repository read begins with selectFrom
  // or, compiled beforehand, runs through executeQuery.
  counted = new Proxy(db, {
    get(target, property) {
      if (property === 'selectFrom' || property === 'executeQuery') queries += 1;
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
});
after(async () => {
  await db.destroy();
  await database.drop();
});

test('lookups of one key in the same turn share one query; a lookup after a revocation sees it', async () => {
  const key = generateApiKey();
  const other = generateApiKey();
  const id = await storeApiKey(db, key, 'burst', 'operator');
  await storeApiKey(db, other, 'other', 'viewer');
  const byHash = sharedKeyLookups(counted);
  const lookup = (key: string) => byHash(hashApiKey(key));

  queries = 0;
  const burst = await Promise.all([
    ...Array.from({ length: 10 }, () => lookup(key)),
    lookup(other),
    lookup('gd_not-a-key'),
  ]);
  assert.equal(queries, 3, 'one query per distinct key');
  for (const principal of burst.slice(0, 10))
    assert.deepEqual(principal, { keyId: id, name: 'burst', role: 'operator', project: 'default' });
  assert.notEqual(burst[0], burst[1], 'each caller gets its own copy');
  assert.equal(burst[10]?.role, 'viewer');
  assert.equal(burst[11], undefined);

  // A lookup that starts after the revocation committed never reuses an answer read before it.
  const before = lookup(key);
  assert.equal((await before)?.keyId, id);
  assert.ok(await revokeApiKey(db, id));
  assert.equal(await lookup(key), undefined);
});
