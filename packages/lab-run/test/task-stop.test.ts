import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  advanceLabRun,
  createDb,
  type Db,
  getVm,
  insertLab,
  insertVms,
  listSteps,
  migrateToLatest,
} from '@glassdome/db';
import { type JobContext, Producer } from '@glassdome/queue';
import { createRedisPrefix, createTestDatabase, type TestDatabase, type TestRedis } from '@glassdome/testkit';
import {
  cancelLab,
  type LabRunContext,
  LabStoppedError,
  moveLab,
  moveVm,
  moveVmsOfLab,
  runLabTask,
} from '../src/index';

let database: TestDatabase;
let redis: TestRedis;
let ctx: LabRunContext;
let db: Db;
before(async () => {
  database = await createTestDatabase('lab_task_stop');
  redis = createRedisPrefix('lab-task-stop');
  db = createDb(database.url);
  await migrateToLatest(db);
  ctx = { db, producer: await Producer.open(redis.url, redis.prefix) };
});
after(async () => {
  await ctx?.producer.close();
  await db?.destroy();
  await database?.drop();
  await redis?.cleanup();
});

const TASK = 'c0:vm:a:provision';

async function newLab(name: string) {
  const labId = await insertLab(db, {
    name,
    platformId: 'default',
    spec: {},
    graph: { tasks: [{ id: TASK, kind: 'vm-provision', copy: 0, vmName: 'a', specVmName: 'a', dependsOn: [] }] },
    onFailure: 'fail',
    copies: 1,
    expiresAt: null,
  });
  const [vmId] = await insertVms(db, [
    { labId, copy: 0, name: 'a', os: 'ubuntu-22.04', platformId: 'default', node: 'pve01', spec: {} },
  ]);
  return { labId, vmId: vmId! };
}

function jobContext(): JobContext {
  return {
    job: { attemptsMade: 0, opts: { attempts: 4 } } as JobContext['job'],
    token: undefined,
    signal: new AbortController().signal,
    log: undefined as never,
  };
}

/** Resolves when `signal` aborts, rejecting with its reason: a long wait that honours the signal. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

test('a VM its task moved to deploying just after the lab failed is settled with the lab', async () => {
  const { labId, vmId } = await newLab('late-vm');
  const outcome = await runLabTask(
    ctx,
    { labId, taskId: TASK, context: jobContext() },
    async ({ checkStillRunning }) => {
      // A sibling task fails the lab (and the VMs then in flight) …
      assert.equal(await moveLab(db, labId, 'fail', { error: 'c0:vm:b:provision: boom' }), true);
      await moveVmsOfLab(db, labId, 'fail', { error: 'lab failed' });
      // … while this task, having read the lab a moment earlier, starts its VM, then checks.
      await moveVm(db, vmId, 'deploy');
      await checkStillRunning();
      return undefined;
    },
  );
  assert.deepEqual(outcome, { taskId: TASK, stopped: 'failed' });
  const vm = await getVm(db, vmId);
  assert.equal(vm?.status, 'failed', 'the VM is not left deploying');
  assert.match(String(vm?.error), /lab failed/);
});

test('a cancel reaches a task in the middle of a long wait, not at its next step', async () => {
  const { labId, vmId } = await newLab('cancel-mid-wait');
  const started = Date.now();
  const outcome = await runLabTask(
    ctx,
    { labId, taskId: TASK, context: jobContext() },
    async ({ signal }) => {
      await moveVm(db, vmId, 'deploy');
      setTimeout(() => void cancelLab(db, labId), 200);
      // Stands for a clone or an agent wait of minutes: only the signal ends it.
      await Promise.race([untilAborted(signal), new Promise((resolve) => setTimeout(resolve, 60_000))]);
      return undefined;
    },
    { watchIntervalMs: 50 },
  );
  assert.deepEqual(outcome, { taskId: TASK, stopped: 'cancelled' });
  assert.ok(Date.now() - started < 30_000, 'stopped by the cancel, not by the end of the wait');
  assert.equal((await getVm(db, vmId))?.status, 'cancelled');
  const [step] = await listSteps(db, { labId });
  assert.equal(step?.status, 'skipped');
});

test('a task of an older run stops once a newer run took over, and leaves the step to it', async () => {
  const { labId } = await newLab('superseded');
  assert.equal(await moveLab(db, labId, 'start'), true);
  let seen: unknown;
  const outcome = await runLabTask(
    ctx,
    { labId, taskId: TASK, context: jobContext() },
    async ({ signal }) => {
      // A retry (or re-clone) starts run 1 while this task of run 0 still works.
      await advanceLabRun(db, labId);
      try {
        await Promise.race([untilAborted(signal), new Promise((resolve) => setTimeout(resolve, 60_000))]);
      } catch (error) {
        seen = error;
        throw error;
      }
      return undefined;
    },
    { watchIntervalMs: 50 },
  );
  assert.ok(seen instanceof LabStoppedError && seen.superseded, 'aborted as superseded');
  assert.equal('stopped' in outcome, true);
  const [step] = await listSteps(db, { labId });
  // advanceLabRun put the running step back to pending for run 1; run 0 must not overwrite it.
  assert.equal(step?.status, 'pending');
});

test("a VM task's work gets its VM from the start; a preparation that fails for good fails the task and its lab", async () => {
  const { labId, vmId } = await newLab('unprepared');
  let read: string | undefined;
  await runLabTask(ctx, { labId, taskId: TASK, context: jobContext() }, async ({ vm }) => {
    read = vm?.id;
    return undefined;
  });
  assert.equal(read, vmId);

  const failing = await newLab('unprepared-final');
  const last = { ...jobContext(), job: { attemptsMade: 3, opts: { attempts: 4 } } as JobContext['job'] };
  await assert.rejects(
    runLabTask(ctx, { labId: failing.labId, taskId: TASK, context: last }, async () => undefined, {
      prepare: async () => {
        throw new Error('no node fits');
      },
    }),
    /no node fits/,
  );
  const [step] = await listSteps(db, { labId: failing.labId });
  assert.deepEqual([step?.status, step?.error], ['failed', 'no node fits']);
  assert.equal((await getVm(db, failing.vmId))?.status, 'failed', 'the fail policy settles the lab with its VMs');
});
