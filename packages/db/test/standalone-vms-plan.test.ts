/**
 * A page of standalone VMs is read with a prepared statement that Postgres plans once per connection
 * (its generic plan) instead of at every run: with the page's LIMIT a parameter and nothing else in
 * the text bounding it, Postgres costs the generic plan for a tenth of the table (a sequential scan
 * and a sort, steps for thousands of rows) and so makes a custom plan for each run.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import { createDb, type Db, decodeCursor, listStandaloneVms, migrateToLatest, STANDALONE_VMS } from '../src/index';
import type { Cursor } from '../src/paging';

let database: TestDatabase;
let db: Db;

before(async () => {
  database = await createTestDatabase('standalone-vms-plan');
  db = createDb(database.url);
  await migrateToLatest(db);
  await sql`INSERT INTO projects (name) VALUES ('blue')`.execute(db);
  // Enough rows that a tenth of them is far more than a page.
  await sql`INSERT INTO vms (name, os, platform_id, node, status, spec, created_at, project)
    SELECT 'vm-' || i, 'ubuntu-22.04', 'p', 'pve01', CASE WHEN i % 4 = 0 THEN 'failed' ELSE 'ready' END, '{}',
           now() - i * interval '1 second', CASE WHEN i % 3 = 0 THEN 'blue' ELSE 'default' END
    FROM generate_series(1, 5000) AS i`.execute(db);
  await sql`ANALYZE vms`.execute(db);
});

after(async () => {
  await db?.destroy();
  await database?.drop();
});

test('the first page and cursor pages run on a plan made once per connection', async () => {
  const plans = await db.connection().execute(async (connection) => {
    let cursor: Cursor | undefined;
    // Postgres makes custom plans for a statement's first five runs, then compares its generic plan.
    for (let i = 0; i < 8; i += 1) await listStandaloneVms(connection, { limit: 50 });
    // The first page of this filter (another statement, run once), then eight pages after it.
    for (let i = 0; i < 9; i += 1) {
      const page = await listStandaloneVms(
        connection,
        { status: 'failed', limit: 50, cursor },
        { kind: 'project', project: 'blue' },
      );
      cursor = decodeCursor(page.nextCursor!, STANDALONE_VMS) as Cursor;
    }
    return (
      await sql<{ statement: string; generic_plans: string; custom_plans: string }>`
        SELECT statement, generic_plans::text, custom_plans::text FROM pg_prepared_statements
        WHERE (statement LIKE '%vms.lab_id IS NULL%' OR statement LIKE '%"lab_id" is null%')
          AND generic_plans + custom_plans >= 8`.execute(connection)
    ).rows;
  });
  assert.equal(plans.length, 2, 'both run as named prepared statements');
  for (const plan of plans) {
    assert.ok(Number(plan.generic_plans) >= 3, `generic ${plan.generic_plans}, custom ${plan.custom_plans}`);
  }
});
