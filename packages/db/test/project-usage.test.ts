/**
 * The project usage counters (migration 0010) always equal the sums they replace, whatever writes
 * VMs and labs go through (inserts, status changes to and from destroyed, resized specs, moves
 * between projects, deletes); and the one-statement VM deploy counts concurrent deploys of one
 * project one after the other: with room for K more VMs, K of N concurrent deploys go in and the
 * rest are refused, naming the usage and limits. The deploy statement also deletes the outbox rows
 * it is handed (intents already sent), whatever it answers, and none when it fails; it runs as a
 * statement prepared by name.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import fc from 'fast-check';
import { sql } from 'kysely';
import {
  countProjectUsage,
  createDb,
  type Db,
  ensureProject,
  insertQueuedVm,
  insertQueuedVms,
  migrateToLatest,
  projectUsage,
  setProjectQuotas,
} from '../src/index';

let database: TestDatabase;
let db: Db;

before(async () => {
  database = await createTestDatabase('project-usage');
  db = createDb(database.url);
  await migrateToLatest(db);
  for (const name of ['red', 'blue']) await ensureProject(db, name);
});
after(async () => {
  await db?.destroy();
  await database?.drop();
});

const PROJECTS = ['default', 'red', 'blue'] as const;
const STATUSES = ['queued', 'deploying', 'ready', 'failed', 'destroying', 'destroyed'] as const;

const operation = fc.oneof(
  fc.record({
    kind: fc.constant('vm' as const),
    project: fc.constantFrom(...PROJECTS),
    status: fc.constantFrom(...STATUSES),
    cpus: fc.integer({ min: 1, max: 16 }),
    memory: fc.integer({ min: 256, max: 65536 }),
  }),
  fc.record({
    kind: fc.constant('lab' as const),
    project: fc.constantFrom(...PROJECTS),
    status: fc.constantFrom('queued', 'ready', 'degraded', 'failed', 'destroyed'),
    copies: fc.integer({ min: 1, max: 30 }),
  }),
  fc.record({ kind: fc.constant('status' as const), pick: fc.nat(), status: fc.constantFrom(...STATUSES) }),
  fc.record({ kind: fc.constant('resize' as const), pick: fc.nat(), cpus: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ kind: fc.constant('move' as const), pick: fc.nat(), project: fc.constantFrom(...PROJECTS) }),
  fc.record({ kind: fc.constant('lab-copies' as const), pick: fc.nat(), copies: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
);

async function ids(table: 'vms' | 'labs'): Promise<string[]> {
  return (await sql<{ id: string }>`SELECT id FROM ${sql.table(table)} ORDER BY id`.execute(db)).rows.map((r) => r.id);
}

test('the counters equal the sums after any sequence of writes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 25 }), async (operations) => {
      for (const op of operations) {
        const vmIds = await ids('vms');
        const labIds = await ids('labs');
        const vmId = vmIds.length ? vmIds[('pick' in op ? op.pick : 0) % vmIds.length] : undefined;
        const labId = labIds.length ? labIds[('pick' in op ? op.pick : 0) % labIds.length] : undefined;
        switch (op.kind) {
          case 'vm':
            await sql`INSERT INTO vms (name, os, platform_id, node, status, spec, project)
              VALUES (${`vm-${randomUUID()}`}, 'ubuntu-22.04', 'p', 'pve01', ${op.status},
                      ${JSON.stringify({ cpus: op.cpus, memoryMiB: op.memory })}::jsonb, ${op.project})`.execute(db);
            break;
          case 'lab':
            await sql`INSERT INTO labs (name, platform_id, status, spec, graph, on_failure, copies, project)
              VALUES (${`lab-${randomUUID()}`}, 'p', ${op.status}, '{}', '{}', 'keep', ${op.copies}, ${op.project})`.execute(
              db,
            );
            break;
          case 'status':
            if (vmId) await sql`UPDATE vms SET status = ${op.status} WHERE id = ${vmId}`.execute(db);
            break;
          case 'resize':
            if (vmId)
              await sql`UPDATE vms SET spec = jsonb_set(spec, '{cpus}', to_jsonb(${op.cpus}::int)) WHERE id = ${vmId}`.execute(
                db,
              );
            break;
          case 'move':
            if (vmId) await sql`UPDATE vms SET project = ${op.project} WHERE id = ${vmId}`.execute(db);
            if (labId) await sql`UPDATE labs SET project = ${op.project} WHERE id = ${labId}`.execute(db);
            break;
          case 'lab-copies':
            if (labId) await sql`UPDATE labs SET copies = ${op.copies} WHERE id = ${labId}`.execute(db);
            break;
          case 'delete':
            if (vmId) await sql`DELETE FROM vms WHERE id = ${vmId}`.execute(db);
            if (labId && op.pick % 2 === 0) await sql`DELETE FROM labs WHERE id = ${labId}`.execute(db);
            break;
        }
      }
      for (const project of PROJECTS) {
        assert.deepEqual(await projectUsage(db, project), await countProjectUsage(db, project), project);
      }
    }),
    { numRuns: 40 },
  );
});

test('concurrent one-statement deploys of one project are counted one after the other', async () => {
  await ensureProject(db, 'tight');
  const held = (await projectUsage(db, 'tight')).vms;
  await setProjectQuotas(db, 'tight', { maxVms: held + 5 });
  const defaults = { maxVms: 1_000_000, maxVcpus: 1_000_000, maxMemoryMiB: 1_000_000_000 };
  const attempts = await Promise.all(
    Array.from({ length: 20 }, (_, i) => {
      const id = randomUUID();
      return insertQueuedVm(
        db,
        {
          id,
          name: `tight-${i}-${id.slice(0, 8)}`,
          os: 'ubuntu-22.04',
          platformId: 'p',
          node: 'pve01',
          spec: { cpus: 2, memoryMiB: 1024 },
          project: 'tight',
          cpus: 2,
          memoryMiB: 1024,
        },
        ['reserve-vmid', 'clone'],
        { kind: 'job', name: 'vm.deploy', payload: { vmId: id }, jobId: `vm-deploy.${id}` },
        defaults,
      );
    }),
  );
  const inserted = attempts.filter((attempt) => attempt.inserted);
  assert.equal(inserted.length, 5, 'exactly the room left');
  for (const refused of attempts.filter((attempt) => !attempt.inserted)) {
    assert.equal(refused.reason, 'quota');
    if (refused.reason === 'quota') {
      assert.equal(refused.limits.maxVms, held + 5);
      assert.equal(refused.usage.vms, held + 5);
    }
  }
  assert.equal((await projectUsage(db, 'tight')).vms, held + 5);
  const written = await sql<{ steps: number; intents: number }>`
    SELECT (SELECT sum(jsonb_array_length(planned_steps))::int FROM vms WHERE project = 'tight') AS steps,
           (SELECT count(*)::int FROM outbox WHERE intent->>'name' = 'vm.deploy'
              AND intent->'payload'->>'vmId' IN (SELECT id::text FROM vms WHERE project = 'tight')) AS intents`.execute(
    db,
  );
  assert.deepEqual(
    written.rows[0],
    { steps: 10, intents: 5 },
    'each VM with its steps and its intent, nothing for the refused',
  );
  const missing = await insertQueuedVm(
    db,
    {
      id: randomUUID(),
      name: 'nowhere',
      os: 'x',
      platformId: 'p',
      node: 'n',
      spec: {},
      project: 'no-such',
      cpus: 1,
      memoryMiB: 1,
    },
    [],
    {},
    defaults,
  );
  assert.deepEqual(missing, { inserted: false, reason: 'no-project' });
});

test("a deploy statement deletes the sent intents' outbox rows it is handed, whatever it answers, none when it fails", async () => {
  await ensureProject(db, 'relayed');
  const defaults = { maxVms: 1_000_000, maxVcpus: 1_000_000, maxMemoryMiB: 1_000_000_000 };
  const vm = (name: string, project = 'relayed') => {
    const id = randomUUID();
    return {
      id,
      name,
      os: 'debian-12',
      platformId: 'p',
      node: 'pve01',
      spec: {},
      project,
      cpus: 1,
      memoryMiB: 512,
      intent: { kind: 'job', name: 'vm.deploy', payload: { vmId: id }, jobId: `vm-deploy.${id}` },
    };
  };
  const deploy = (project: string, name: string, sent: number[]) =>
    insertQueuedVms(db, project, [vm(name, project)], ['clone'], defaults, sent);
  const outboxIds = async () => (await db.selectFrom('outbox').select('id').execute()).map((row) => Number(row.id));
  const sentOf = async (name: string) => {
    const queued = await deploy('relayed', name, []);
    assert.ok(queued.inserted);
    return queued.outbox.map((row) => row.id);
  };

  const first = await sentOf(`relayed-a-${randomUUID()}`);
  const second = await deploy('relayed', `relayed-b-${randomUUID()}`, first);
  assert.ok(second.inserted);
  let left = await outboxIds();
  assert.ok(!left.includes(first[0]!), 'the handed row is gone');
  assert.ok(left.includes(second.outbox[0]!.id), "the statement's own intent stays until it is sent");

  const taken = `relayed-c-${randomUUID()}`;
  const third = await sentOf(taken);
  await assert.rejects(deploy('relayed', taken, third), { code: '23505' });
  assert.ok((await outboxIds()).includes(third[0]!), 'a failed statement deletes nothing');

  assert.deepEqual(await deploy('no-such-project', `relayed-d-${randomUUID()}`, third), {
    inserted: false,
    reason: 'no-project',
  });
  left = await outboxIds();
  assert.ok(!left.includes(third[0]!), 'a statement that writes nothing still deletes the rows handed to it');

  // A row a relay pass holds (its transaction is sending it) is left to that pass, not waited for.
  const held = await sentOf(`relayed-e-${randomUUID()}`);
  await db.transaction().execute(async (trx) => {
    await sql`SELECT id FROM outbox WHERE id = ${held[0]!} FOR UPDATE`.execute(trx);
    const answered = await Promise.race([
      deploy('relayed', `relayed-f-${randomUUID()}`, held).then((queued) => queued.inserted),
      new Promise((resolve) => setTimeout(resolve, 3_000, 'waited for the held row')),
    ]);
    assert.equal(answered, true);
  });
  assert.ok((await outboxIds()).includes(held[0]!), 'the held row is left to the pass that holds it');
});

test('the deploy statement is prepared by name once per connection, and runs the same prepared', async () => {
  const single = createDb(database.url, { maxConnections: 1 });
  try {
    const defaults = { maxVms: 1_000_000, maxVcpus: 1_000_000, maxMemoryMiB: 1_000_000_000 };
    for (let run = 0; run < 3; run++) {
      const id = randomUUID();
      const queued = await insertQueuedVms(
        single,
        'default',
        [
          {
            id,
            name: `prepared-${id}`,
            os: 'debian-12',
            platformId: 'p',
            node: 'pve01',
            spec: {},
            project: 'default',
            cpus: 1,
            memoryMiB: 512,
            intent: { kind: 'job', name: 'vm.deploy', payload: { vmId: id }, jobId: `vm-deploy.${id}` },
          },
        ],
        ['clone'],
        defaults,
      );
      assert.ok(queued.inserted);
    }
    const prepared = await sql<{ statement: string }>`
      SELECT statement FROM pg_prepared_statements WHERE name LIKE 'glassdome\_%'`.execute(single);
    assert.equal(prepared.rows.length, 1, 'one prepared statement for the three runs');
    assert.match(prepared.rows[0]!.statement, /INSERT INTO vms/);
  } finally {
    await single.destroy();
  }
});

test('VMs inserted together (one statement, several projects) are counted together, as the sums say', async () => {
  await ensureProject(db, 'together');
  const vm = (project: string, cpus: number, status = 'queued') => ({
    name: `together-${randomUUID()}`,
    os: 'debian-12',
    platform_id: 'p',
    node: 'pve01',
    spec: JSON.stringify({ cpus, memoryMiB: cpus * 1024 }),
    project,
    status,
  });
  const rows = [vm('together', 1), vm('together', 2), vm('red', 4), vm('together', 8, 'destroyed')];
  await db.insertInto('vms').values(rows).execute();
  for (const project of ['together', 'red']) {
    assert.deepEqual(await projectUsage(db, project), await countProjectUsage(db, project), project);
  }
  const usage = await projectUsage(db, 'together');
  assert.equal(usage.vms, 2);
  assert.equal(usage.vcpus, 3);
});
