import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import {
  createDb,
  type Db,
  finishStep,
  getLab,
  getTemplate,
  getVm,
  insertLab,
  insertTemplate,
  insertVms,
  migrateToLatest,
  planSteps,
} from '@glassdome/db';
import { moveLab, moveVm, moveVmsOfLab, requestVmDestroy } from '@glassdome/lab-run';
import { createLogger } from '@glassdome/logger';
import { Producer } from '@glassdome/queue';
import { OutboxRelay } from '@glassdome/runtime';
import { createRedisPrefix, createTestDatabase, type TestDatabase, type TestRedis } from '@glassdome/testkit';
import type { OverseerContext } from '../src/context';
import { OverseerMetrics } from '../src/metrics';
import { redriveStuck } from '../src/redrive';
import { testSettings } from './harness';

let database: TestDatabase;
let redis: TestRedis;
let db: Db;
let ctx: OverseerContext;
before(async () => {
  database = await createTestDatabase('redrive');
  redis = createRedisPrefix('redrive');
  db = createDb(database.url);
  await migrateToLatest(db);
  const producer = await Producer.open(redis.url, redis.prefix);
  const logger = createLogger({ name: 'redrive-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  ctx = {
    db,
    producer,
    // Not started: each test flushes when it wants the intents in Redis.
    relay: new OutboxRelay(db, producer, logger),
    pve: undefined as never,
    logger,
    settings: testSettings({ redrive: { graceSeconds: 60, maxRedrives: 2 } }),
    metrics: new OverseerMetrics(),
  };
});
after(async () => {
  await ctx?.producer.close();
  await db?.destroy();
  await database?.drop();
  await redis?.cleanup();
});
beforeEach(async () => {
  // Each test starts from an empty Redis prefix (as after `redis-server` lost its data) and empty tables.
  await redis.cleanup();
  for (const table of ['outbox', 'events', 'steps', 'vms', 'labs', 'templates'] as const) {
    await db.deleteFrom(table).execute();
  }
});

const GRAPH = {
  tasks: [
    { id: 'c0:vm:a:provision', kind: 'vm-provision', copy: 0, vmName: 'a', specVmName: 'a', dependsOn: [] },
    {
      id: 'c0:vm:a:configure',
      kind: 'vm-configure',
      copy: 0,
      vmName: 'a',
      specVmName: 'a',
      dependsOn: ['c0:vm:a:provision'],
    },
    { id: 'c0:vm:b:provision', kind: 'vm-provision', copy: 0, vmName: 'b', specVmName: 'b', dependsOn: [] },
  ],
};

async function standaloneVm(name: string): Promise<string> {
  const [id] = await insertVms(db, [{ name, os: 'ubuntu-22.04', platformId: 'default', node: 'pve01', spec: {} }]);
  return id!;
}

async function lab(name: string, policy: 'fail' | 'keep' = 'fail') {
  const labId = await insertLab(db, {
    name,
    platformId: 'default',
    spec: {},
    graph: GRAPH,
    onFailure: policy,
    copies: 1,
    expiresAt: null,
  });
  const vmIds = await insertVms(
    db,
    ['a', 'b'].map((vm) => ({
      labId,
      copy: 0,
      name: vm,
      os: 'ubuntu-22.04',
      platformId: 'default',
      node: 'pve01',
      spec: {},
    })),
  );
  return { labId, vmIds };
}

/** Everything written so far happened `minutes` ago (the rows have been quiet since). */
async function age(minutes: number): Promise<void> {
  const then = new Date(Date.now() - minutes * 60_000);
  await db.updateTable('vms').set({ updated_at: then, created_at: then }).execute();
  await db.updateTable('labs').set({ updated_at: then, created_at: then }).execute();
  await db.updateTable('templates').set({ updated_at: then }).execute();
  await db
    .updateTable('steps')
    .set({ started_at: then, finished_at: then })
    .where('started_at', 'is not', null)
    .execute();
  await db.updateTable('steps').set({ finished_at: then }).where('finished_at', 'is not', null).execute();
  await db.updateTable('events').set({ at: then }).execute();
}

async function clearOutbox(): Promise<void> {
  await db.deleteFrom('outbox').execute();
}

async function jobIds(queue: 'vm' | 'lab' | 'template'): Promise<string[]> {
  const jobs = await ctx.producer.queues[queue].getJobs(['wait', 'waiting-children', 'delayed', 'active']);
  return jobs.map((job) => String(job.id)).sort();
}

test('Redis restarted empty: every row left queued, deploying or destroying gets a job again', async () => {
  const queued = await standaloneVm('queued-vm');
  const deploying = await standaloneVm('deploying-vm');
  assert.equal(await moveVm(db, deploying, 'deploy'), true);
  const destroying = await standaloneVm('destroying-vm');
  await requestVmDestroy(db, destroying);
  await clearOutbox(); // the intent was sent long ago and its job is gone
  const { labId } = await lab('half-done');
  assert.equal(await moveLab(db, labId, 'start'), true);
  await planSteps(db, { labId }, ['c0:vm:a:provision', 'c0:vm:b:provision']);
  await finishStep(db, { labId }, 'c0:vm:a:provision', { status: 'done' });
  const templateId = (await insertTemplate(db, {
    platformId: 'default',
    node: 'pve01',
    os: 'debian-12',
    vmid: 9002,
    name: 'tpl',
  }))!;
  await age(10);
  assert.deepEqual(await jobIds('vm'), [], 'Redis holds nothing');

  const summary = await redriveStuck(ctx, 'default');
  assert.deepEqual(summary?.redriven, { vms: 2, labs: 1, destroys: 1, templates: 1 });
  await ctx.relay.flush();

  const vmJobs = await jobIds('vm');
  assert.equal(vmJobs.filter((id) => id.startsWith(`vm-deploy.${queued}.r`)).length, 1);
  assert.equal(vmJobs.filter((id) => id.startsWith(`vm-deploy.${deploying}.r`)).length, 1);
  assert.equal(vmJobs.filter((id) => id.startsWith(`vm-destroy.${destroying}.`)).length, 1);
  const labJobs = await jobIds('lab');
  // Run 1 of the lab: its root, and only the tasks neither done nor waiting on anything not done.
  assert.deepEqual(labJobs, [
    `lab.${labId}.r1`,
    `lab.${labId}.r1.c0.vm.a.configure`,
    `lab.${labId}.r1.c0.vm.b.provision`,
  ]);
  assert.equal((await getLab(db, labId))?.run, 1);
  assert.equal((await jobIds('template')).length, 1);
  assert.equal((await getTemplate(db, templateId))?.status, 'queued');

  // The next sweep finds every row with a live job: nothing more is sent.
  await age(10);
  const again = await redriveStuck(ctx, 'default');
  assert.deepEqual(again?.redriven, { vms: 0, labs: 0, destroys: 0, templates: 0 });
});

test('rows that changed within the grace period, or have an intent waiting in the outbox, are left alone', async () => {
  await standaloneVm('fresh');
  const waiting = await standaloneVm('in-outbox');
  await requestVmDestroy(db, waiting);
  await db
    .updateTable('vms')
    .set({ updated_at: new Date(Date.now() - 10 * 60_000) })
    .where('id', '=', waiting)
    .execute();
  const summary = await redriveStuck(ctx, 'default');
  assert.deepEqual(summary?.redriven, { vms: 0, labs: 0, destroys: 0, templates: 0 });
});

test('a row re-driven again and again without progress is failed with the reason', async () => {
  const vmId = await standaloneVm('hopeless');
  const { labId } = await lab('hopeless-lab');
  for (let sweep = 0; sweep < 2; sweep++) {
    await age(10);
    await redis.cleanup(); // each job is lost again
    await clearOutbox();
    const summary = await redriveStuck(ctx, 'default');
    assert.equal(summary?.redriven.vms, 1);
    assert.equal(summary?.redriven.labs, 1);
  }
  await age(10);
  await redis.cleanup();
  await clearOutbox();
  const summary = await redriveStuck(ctx, 'default');
  assert.deepEqual(summary?.failed, { vms: 1, labs: 1, templates: 0 });
  const vm = await getVm(db, vmId);
  assert.equal(vm?.status, 'failed');
  assert.match(String(vm?.error), /no deploy job after 2 re-drives/);
  assert.equal((await getLab(db, labId))?.status, 'failed');
  for (const id of (await lab('unrelated')).vmIds) assert.equal((await getVm(db, id))?.status, 'queued');
});

test('a fail-policy lab whose task failed for good (but the lab write was lost) fails; a failed lab settles a VM left deploying', async () => {
  const { labId, vmIds } = await lab('lost-failure');
  assert.equal(await moveLab(db, labId, 'start'), true);
  await planSteps(db, { labId }, ['c0:vm:b:provision']);
  await finishStep(db, { labId }, 'c0:vm:b:provision', { status: 'failed', error: 'clone refused' });
  const stopped = await lab('failed-earlier', 'keep');
  assert.equal(await moveLab(db, stopped.labId, 'fail', { error: 'boom' }), true);
  await moveVmsOfLab(db, stopped.labId, 'fail', { error: 'lab failed' });
  // A task moved its VM to deploying just after the lab failed, then died.
  assert.equal(await moveVm(db, stopped.vmIds[0]!, 'deploy'), true);
  await age(10);

  const summary = await redriveStuck(ctx, 'default');
  assert.equal(summary?.failed.labs, 1);
  assert.equal(summary?.settled, 1);
  const failed = await getLab(db, labId);
  assert.equal(failed?.status, 'failed');
  assert.match(String(failed?.error), /c0:vm:b:provision: clone refused/);
  for (const id of vmIds) assert.equal((await getVm(db, id))?.status, 'failed');
  assert.equal((await getVm(db, stopped.vmIds[0]!))?.status, 'failed');
});
