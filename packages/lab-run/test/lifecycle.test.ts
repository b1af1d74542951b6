import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createDb, type Db, getLab, getVm, insertLab, insertVms, migrateToLatest } from '@glassdome/db';
import {
  LAB_STATUSES,
  LAB_TRANSITIONS,
  STEP_STATUSES,
  transitionTable,
  VM_STATUSES,
  VM_TRANSITIONS,
} from '@glassdome/lab';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import { moveLab, moveVm, moveVmsOfLab } from '../src/index';

let database: TestDatabase;
let db: Db;
before(async () => {
  database = await createTestDatabase('lab_run');
  db = createDb(database.url);
  await migrateToLatest(db);
});
after(async () => {
  await db.destroy();
  await database.drop();
});

async function checkedStatuses(table: string): Promise<string[]> {
  const { rows } = await sql<{ def: string }>`
    SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = ${`${table}_status_check`}`.execute(db);
  assert.equal(rows.length, 1, `${table} has its status CHECK constraint`);
  return [...rows[0]!.def.matchAll(/'([a-z-]+)'::text/g)].map((m) => m[1]!).sort();
}

test('the database accepts exactly the statuses the state machines declare', async () => {
  assert.deepEqual(await checkedStatuses('labs'), [...LAB_STATUSES].sort());
  assert.deepEqual(await checkedStatuses('vms'), [...VM_STATUSES].sort());
  assert.deepEqual(await checkedStatuses('steps'), [...STEP_STATUSES].sort());
  const labId = await insertLab(db, newLab('bad'));
  await assert.rejects(sql`UPDATE labs SET status = 'sleeping' WHERE id = ${labId}`.execute(db), /labs_status_check/);
});

test('every transition names only declared statuses, and every status is reachable', () => {
  for (const [table, statuses] of [
    [LAB_TRANSITIONS, LAB_STATUSES],
    [VM_TRANSITIONS, VM_STATUSES],
  ] as const) {
    const reached = new Set<string>(['queued']);
    for (const t of Object.values(table)) {
      for (const s of [...t.from, t.to]) assert.ok((statuses as readonly string[]).includes(s), s);
      reached.add(t.to);
    }
    assert.deepEqual([...reached].sort(), [...statuses].sort());
  }
});

test('a transition applies only from its from-states, and a lost race is reported, not overwritten', async () => {
  const labId = await insertLab(db, newLab('race'));
  const [vmA, vmB] = await insertVms(db, [newVm(labId, 'a'), newVm(labId, 'b')]);
  assert.equal(await moveLab(db, labId, 'retry'), false, 'a queued lab cannot be retried');
  assert.equal(await moveLab(db, labId, 'start'), true);
  // Two writers race: cancel and settle-ready. Exactly one wins.
  const [cancelled, settled] = await Promise.all([moveLab(db, labId, 'cancel'), moveLab(db, labId, 'settleReady')]);
  assert.equal(Number(cancelled) + Number(settled), 1);
  assert.equal((await getLab(db, labId))?.status, cancelled ? 'cancelled' : 'ready');

  assert.equal(await moveVm(db, vmA!, 'deploy'), true);
  assert.equal(await moveVm(db, vmA!, 'ready'), true);
  assert.deepEqual(await moveVmsOfLab(db, labId, 'cancel', { error: 'lab cancelled' }), [vmB], 'only the VM in flight');
  assert.equal((await getVm(db, vmA!))?.status, 'ready');
  assert.equal((await getVm(db, vmB!))?.status, 'cancelled');
  assert.equal((await getVm(db, vmB!))?.error, 'lab cancelled');
  assert.equal(await moveVm(db, vmB!, 'ready'), false, 'a cancelled VM does not turn ready');
});

test('docs/architecture.md shows the transition tables as the code declares them', () => {
  const doc = readFileSync(new URL('../../../docs/architecture.md', import.meta.url), 'utf8');
  assert.ok(doc.includes(transitionTable(LAB_TRANSITIONS)), 'lab table out of date: regenerate with transitionTable()');
  assert.ok(doc.includes(transitionTable(VM_TRANSITIONS)), 'VM table out of date: regenerate with transitionTable()');
});

test('nothing outside lab-run and db writes a lab or VM status', () => {
  const files = execGitGrep(['setLabStatus\\|setVmStatus\\|setVmStatusOfLab']);
  const offenders = files.filter(
    (f) => !f.startsWith('packages/lab-run/') && !f.startsWith('packages/db/src/') && !f.endsWith('.test.ts'),
  );
  assert.deepEqual(offenders, []);
});

function execGitGrep(patterns: string[]): string[] {
  const root = new URL('../../../', import.meta.url).pathname;
  try {
    return execFileSync('git', ['grep', '-l', ...patterns, '--', 'apps', 'packages'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

function newLab(name: string) {
  return {
    name,
    platformId: 'default',
    spec: {},
    graph: { tasks: [] },
    onFailure: 'fail',
    copies: 1,
    expiresAt: null,
  };
}

function newVm(labId: string, name: string) {
  return { labId, copy: 0, name, os: 'ubuntu-22.04', platformId: 'default', node: 'pve01', spec: {} };
}
