/**
 * Keyset pagination of the lists: following nextCursor from the first page visits every row exactly
 * once, in the list's order, also when rows share a timestamp to the microsecond or differ below a
 * millisecond (what a JS Date would lose); filters and scopes compose with it; OFFSET still pages
 * the same way; a cursor that is garbled or belongs to another list is refused; and each list's
 * query is answered from an index, without sorting the table.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import {
  ALERTS_LAST_SEEN,
  type Cursor,
  createDb,
  type Db,
  decodeCursor,
  encodeCursor,
  LAB_EVENTS,
  LABS_NEWEST,
  listAlerts,
  listLabEventPage,
  listLabs,
  listStandaloneVms,
  migrateToLatest,
  type Scope,
  STANDALONE_VMS,
} from '../src/index';
import type { Keyset, Page } from '../src/paging';

let database: TestDatabase;
let db: Db;
let labId: string;

/** 130 timestamps: runs of exact ties, values a microsecond apart, and plain distinct ones. */
const STAMPS = Array.from({ length: 130 }, (_, i) => {
  const base = Date.UTC(2026, 0, 1, 12, 0, 0) + Math.floor(i / 10) * 1000;
  const micros = i % 10 < 4 ? 0 : (i % 10) * 1; // four exact ties, then 1 µs steps within one ms
  return `${new Date(base).toISOString().replace('Z', '')}${String(micros).padStart(3, '0')}Z`;
});

before(async () => {
  database = await createTestDatabase('list-paging');
  db = createDb(database.url);
  await migrateToLatest(db);
  await sql`INSERT INTO projects (name) VALUES ('blue')`.execute(db);
  for (const [i, at] of STAMPS.entries()) {
    const project = i % 3 === 0 ? 'blue' : 'default';
    const status = i % 4 === 0 ? 'failed' : 'ready';
    await sql`INSERT INTO vms (name, os, platform_id, node, status, spec, created_at, project)
              VALUES (${`vm-${i}`}, 'ubuntu-22.04', 'p', 'pve01', ${status}, '{}', ${at}::timestamptz, ${project})`.execute(
      db,
    );
    await sql`INSERT INTO labs (name, platform_id, status, spec, graph, on_failure, copies, created_at, project)
              VALUES (${`lab-${i}`}, 'p', ${status}, '{}', '{}', 'keep', 1, ${at}::timestamptz, ${project})`.execute(
      db,
    );
    await sql`INSERT INTO alerts (dedup_key, kind, severity, subject, message, state, last_seen_at, project)
              VALUES (${`a-${i}`}, 'k', 'warning', 's', 'm', ${i % 2 ? 'open' : 'resolved'}, ${at}::timestamptz, ${project})`.execute(
      db,
    );
  }
  const lab = await sql<{ id: string }>`SELECT id FROM labs WHERE name = 'lab-0'`.execute(db);
  labId = lab.rows[0]!.id;
  // A lab VM stays out of the standalone list.
  await sql`INSERT INTO vms (name, os, platform_id, node, status, spec, lab_id) VALUES ('in-lab', 'x', 'p', 'n', 'ready', '{}', ${labId})`.execute(
    db,
  );
  for (let i = 0; i < 75; i += 1) {
    await sql`INSERT INTO events (lab_id, kind, message, private) VALUES (${labId}, 'k', ${`e-${i}`}, ${i % 5 === 0})`.execute(
      db,
    );
  }
});

after(async () => {
  await db?.destroy();
  await database?.drop();
});

/** Every page from the first, following nextCursor; the cursor decoded as the API decodes it. */
async function walk<T>(
  keyset: Keyset,
  limit: number,
  read: (cursor: Cursor | undefined) => Promise<Page<T>>,
): Promise<{ rows: T[]; pages: number }> {
  const rows: T[] = [];
  let cursor: Cursor | undefined;
  let pages = 0;
  for (;;) {
    const page = await read(cursor);
    pages += 1;
    assert.ok(page.items.length <= limit);
    rows.push(...page.items);
    if (page.nextCursor === null) return { rows, pages };
    const decoded = decodeCursor(page.nextCursor, keyset);
    assert.ok(!('error' in decoded), 'the API takes back its own cursor');
    cursor = decoded;
  }
}

async function expected(table: 'vms' | 'labs' | 'alerts', column: string, where = sql`true`) {
  const rows = await sql<{ name: string }>`SELECT ${sql.ref(table === 'alerts' ? 'dedup_key' : 'name')} AS name
    FROM ${sql.table(table)} WHERE ${where} ORDER BY ${sql.ref(column)} DESC, id DESC`.execute(db);
  return rows.rows.map((row) => row.name);
}

test('following nextCursor visits every standalone VM once, newest first, ties and microseconds included', async () => {
  const { rows, pages } = await walk(STANDALONE_VMS, 7, (cursor) => listStandaloneVms(db, { limit: 7, cursor }));
  assert.deepEqual(
    rows.map((vm) => JSON.parse(vm.shown).name),
    await expected('vms', 'created_at', sql`lab_id IS NULL`),
  );
  assert.equal(pages, Math.ceil(130 / 7));
  assert.ok(
    rows.every((vm) => !('page_key' in vm)),
    'the position column is not part of the rows',
  );
});

test('filters and scopes compose with the cursor', async () => {
  const blue: Scope = { kind: 'project', project: 'blue' };
  const failedBlue = await walk(STANDALONE_VMS, 4, (cursor) =>
    listStandaloneVms(db, { status: 'failed', limit: 4, cursor }, blue),
  );
  assert.deepEqual(
    failedBlue.rows.map((vm) => JSON.parse(vm.shown).name),
    await expected('vms', 'created_at', sql`lab_id IS NULL AND status = 'failed' AND project = 'blue'`),
  );
  const labs = await walk(LABS_NEWEST, 9, (cursor) => listLabs(db, { status: 'ready', limit: 9, cursor }));
  assert.deepEqual(
    labs.rows.map((lab) => lab.name),
    await expected('labs', 'created_at', sql`status = 'ready'`),
  );
  const alerts = await walk(ALERTS_LAST_SEEN, 11, (cursor) =>
    listAlerts(db, { state: 'open', limit: 11, cursor }, { kind: 'project', project: 'default' }),
  );
  assert.deepEqual(
    alerts.rows.map((alert) => alert.dedup_key),
    await expected('alerts', 'last_seen_at', sql`state = 'open' AND project = 'default'`),
  );
});

test("a lab's events page oldest first by id, private ones only when asked", async () => {
  const open = await walk(LAB_EVENTS, 10, (cursor) => listLabEventPage(db, { labId, limit: 10, cursor }));
  assert.deepEqual(
    open.rows.map((event) => event.message),
    Array.from({ length: 75 }, (_, i) => `e-${i}`).filter((_, i) => i % 5 !== 0),
  );
  const all = await walk(LAB_EVENTS, 10, (cursor) =>
    listLabEventPage(db, { labId, includePrivate: true, limit: 10, cursor }),
  );
  assert.equal(all.rows.length, 75);
});

test('the deprecated offset pages the same rows', async () => {
  const byCursor = await walk(LABS_NEWEST, 20, (cursor) => listLabs(db, { limit: 20, cursor }));
  const byOffset: string[] = [];
  for (let offset = 0; offset < 130; offset += 20) {
    byOffset.push(...(await listLabs(db, { limit: 20, offset })).items.map((lab) => lab.name));
  }
  assert.deepEqual(
    byOffset,
    byCursor.rows.map((lab) => lab.name),
  );
});

test('a garbled cursor, or one from another list, is refused with a reason', () => {
  const labsCursor = encodeCursor({ list: 'labs', at: '2026-01-01T12:00:00.000001Z', id: crypto.randomUUID() });
  assert.ok(!('error' in decodeCursor(labsCursor, LABS_NEWEST)));
  const other = decodeCursor(labsCursor, STANDALONE_VMS);
  assert.ok('error' in other && /another list/.test(other.error));
  const garbled: [string, Keyset][] = [
    ['not-a-cursor', LABS_NEWEST],
    [Buffer.from('[1,2]').toString('base64url'), LABS_NEWEST],
    [encodeCursor({ list: 'labs', at: "2026-01-01'; drop table labs; --", id: crypto.randomUUID() }), LABS_NEWEST],
    [encodeCursor({ list: 'labs', at: '2026-01-01T12:00:00.000001Z', id: '1 or 1=1' }), LABS_NEWEST],
    [encodeCursor({ list: 'lab-events', at: null, id: '12a' }), LAB_EVENTS],
  ];
  for (const [text, keyset] of garbled) assert.ok('error' in decodeCursor(text, keyset), text);
});

test('each list is read from an index, in order, without a sort', async () => {
  await sql`ANALYZE`.execute(db);
  // With this few rows a sequential scan would win; forbid it, so what is left shows which index
  // serves each list's order with its filters, and whether Postgres still has to sort.
  const plans: string[] = [];
  await db.connection().execute(async (connection) => {
    await sql`SET enable_seqscan = off`.execute(connection);
    await sql`SET enable_bitmapscan = off`.execute(connection);
    const cursor = { list: 'x', at: '2026-01-01T12:00:05.000000Z', id: '00000000-0000-0000-0000-000000000000' };
    // The repositories' own queries run on this connection too (no error, same settings).
    const queries = [
      listStandaloneVms(connection, { limit: 50, cursor }),
      listStandaloneVms(connection, { status: 'failed', limit: 50, cursor }, { kind: 'project', project: 'blue' }),
      listLabs(connection, { limit: 50, cursor }, { kind: 'project', project: 'blue' }),
      listLabs(connection, { status: 'ready', limit: 50 }),
      listAlerts(connection, { state: 'open', limit: 50, cursor }),
      listAlerts(connection, { limit: 50 }, { kind: 'project', project: 'default' }),
    ];
    await Promise.all(queries);
    for (const [table, where] of [
      ['vms', sql`lab_id IS NULL`],
      ['vms', sql`lab_id IS NULL AND status = 'failed' AND project = 'blue'`],
      ['labs', sql`project = 'blue'`],
      ['labs', sql`status = 'ready'`],
      ['alerts', sql`state = 'open'`],
      ['alerts', sql`project = 'default'`],
    ] as const) {
      const column = table === 'alerts' ? 'last_seen_at' : 'created_at';
      const plan = await sql<{ 'QUERY PLAN': string }>`EXPLAIN SELECT * FROM ${sql.table(table)} WHERE ${where}
        AND (${sql.ref(column)}, id) < ('2026-01-01T12:00:05Z'::timestamptz, '00000000-0000-0000-0000-000000000000'::uuid)
        ORDER BY ${sql.ref(column)} DESC, id DESC LIMIT 51`.execute(connection);
      plans.push(plan.rows.map((row) => row['QUERY PLAN']).join('\n'));
    }
  });
  for (const plan of plans) {
    assert.match(plan, /Index Scan Backward using \w+/, plan);
    assert.doesNotMatch(plan, /Sort/, plan);
  }
});
