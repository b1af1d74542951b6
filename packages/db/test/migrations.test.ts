import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import { createDb, migrateDown, migrateToEmpty, migrateToLatest, migrations } from '../src/index';
import { renderSchema } from '../src/typegen';

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase('migrations');
});
after(async () => database.drop());

async function tableNames(url: string): Promise<string[]> {
  const db = createDb(url);
  try {
    const { rows } = await sql<{ table_name: string }>`
      SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%' ORDER BY table_name`.execute(db);
    return rows.map((row) => row.table_name);
  } finally {
    await db.destroy();
  }
}

test('migrations go up, down to nothing, and up again', async () => {
  const db = createDb(database.url);
  try {
    const up = await migrateToLatest(db);
    assert.deepEqual(
      up,
      Object.keys(migrations).map((name) => `Up ${name}`),
    );
    const tables = await tableNames(database.url);
    for (const expected of ['vms', 'labs', 'steps', 'events', 'alerts', 'vmid_leases', 'network_leases', 'api_keys']) {
      assert.ok(tables.includes(expected), `missing table ${expected}`);
    }
    assert.deepEqual(await migrateToLatest(db), [], 'a second run has nothing to do');

    const down = await migrateToEmpty(db);
    assert.equal(down.length, Object.keys(migrations).length);
    assert.deepEqual(await tableNames(database.url), []);

    await migrateToLatest(db);
    assert.deepEqual(await tableNames(database.url), tables);
    assert.equal((await migrateDown(db)).length, 1);
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
});

test('eight processes migrating at once apply each migration exactly once', async () => {
  const fresh = await createTestDatabase('migrate_race');
  const handles = Array.from({ length: 8 }, () => createDb(fresh.url, { maxConnections: 2 }));
  try {
    const results = await Promise.all(handles.map((db) => migrateToLatest(db)));
    const applied = results.flat();
    assert.deepEqual(
      applied.sort(),
      Object.keys(migrations)
        .map((name) => `Up ${name}`)
        .sort(),
    );
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM kysely_migration`.execute(handles[0]!);
    assert.equal(rows[0]!.n, Object.keys(migrations).length);
  } finally {
    await Promise.all(handles.map((db) => db.destroy()));
    await fresh.drop();
  }
});

test('the committed table interfaces match the migrated schema', async () => {
  const db = createDb(database.url);
  try {
    await migrateToLatest(db);
    const committed = readFileSync(new URL('../src/schema.ts', import.meta.url), 'utf8');
    assert.equal(committed, await renderSchema(db), 'schema.ts is stale: run `pnpm migrate types`');
  } finally {
    await db.destroy();
  }
});
