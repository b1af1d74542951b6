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
import { type JobContext, labJobId, Producer, startLabFlow } from '@glassdome/queue';
import { createRedisPrefix, createTestDatabase, type TestDatabase, type TestRedis } from '@glassdome/testkit';
import {
  cancelLab,
  type LabRunContext,
  LabStoppedError,
  type LabTaskOptions,
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

const CONFIGURE = 'c0:vm:a:configure';

/** A lab of one VM with both its tasks, its flow started. */
async function labWithConfigure(name: string) {
  const labId = await insertLab(db, {
    name,
    platformId: 'default',
    spec: {},
    graph: {
      tasks: [
        { id: TASK, kind: 'vm-provision', copy: 0, vmName: 'a', specVmName: 'a', dependsOn: [] },
        { id: CONFIGURE, kind: 'vm-configure', copy: 0, vmName: 'a', specVmName: 'a', dependsOn: [TASK] },
      ],
    },
    onFailure: 'fail',
    copies: 1,
    expiresAt: null,
  });
  await insertVms(db, [
    { labId, copy: 0, name: 'a', os: 'ubuntu-22.04', platformId: 'default', node: 'pve01', spec: {} },
  ]);
  // Its flow in the queues (no worker takes it here): the root the ready tasks are added under.
  await startLabFlow(ctx.producer, { labId, policy: 'fail', rootTasks: [{ id: TASK, kind: 'vm-provision' }] });
  return labId;
}

/** A job's context at its `attemptsStarted`-th start. */
function startedContext(attemptsStarted: number, attemptsMade = attemptsStarted - 1): JobContext {
  const warnings: unknown[] = [];
  return {
    ...jobContext(),
    job: { attemptsStarted, attemptsMade, opts: { attempts: 4 } } as JobContext['job'],
    log: { warn: (...args: unknown[]) => warnings.push(args) } as unknown as JobContext['log'],
  };
}

const inlineConfigure: LabTaskOptions = {
  inlineNext: (_task, ready) => ready.find((t) => t.id === CONFIGURE),
};

const configureJob = (labId: string) => ctx.producer.queues.lab.getJob(labJobId(labId, CONFIGURE));

async function taskSteps(labId: string) {
  const steps = await listSteps(db, { labId });
  return Object.fromEntries(steps.map((s) => [s.name, s.status]));
}

test("a job's first start runs the task it made ready in the job; a start again adds that task's job", async () => {
  const labId = await labWithConfigure('inline');
  const ran: string[] = [];
  const work = async ({ task }: { task: { id: string } }) => {
    ran.push(task.id);
    return undefined;
  };
  const outcome = await runLabTask(ctx, { labId, taskId: TASK, context: startedContext(1) }, work, inlineConfigure);
  assert.deepEqual(ran, [TASK, CONFIGURE], 'the configure ran in the provision job, right after it');
  assert.equal('inline' in outcome && outcome.inline && 'taskId' in outcome.inline && outcome.inline.taskId, CONFIGURE);
  assert.equal(await configureJob(labId), undefined, 'no job for the configure');
  assert.deepEqual(await taskSteps(labId), { [TASK]: 'done', [CONFIGURE]: 'done' });

  // The same provision job started again (after a crash in the configure): its task is done, the
  // configure is ready, and it gets its own job instead of a second run in this one.
  const again = await labWithConfigure('inline-again');
  await runLabTask(ctx, { labId: again, taskId: TASK, context: startedContext(2, 0) }, work, inlineConfigure);
  assert.deepEqual(ran.slice(2), [TASK], 'the configure did not run in a job started again');
  assert.ok(await configureJob(again), 'the configure has its own job');
});

test('a task run in the job before it that fails gets its own job, and fails nothing for good', async () => {
  const labId = await labWithConfigure('inline-fails');
  // The provision job's last attempt: a failure of its own task would be final, the configure's is not.
  const context = { ...startedContext(1), job: { attemptsStarted: 1, attemptsMade: 3, opts: { attempts: 4 } } };
  const outcome = await runLabTask(
    ctx,
    { labId, taskId: TASK, context: context as JobContext },
    async ({ task }) => {
      if (task.id === CONFIGURE) throw new Error('guest unreachable');
      return undefined;
    },
    inlineConfigure,
  );
  assert.deepEqual('inline' in outcome && outcome.inline && { ...outcome.inline, at: 0 }, {
    taskId: CONFIGURE,
    handedOff: 'guest unreachable',
    at: 0,
  });
  assert.ok(await configureJob(labId), 'the configure has its own job, which retries it');
  const steps = await taskSteps(labId);
  assert.equal(steps[TASK], 'done');
  assert.notEqual(steps[CONFIGURE], 'failed', 'not failed for good');
  const lab = await db.selectFrom('labs').select('status').where('id', '=', labId).executeTakeFirstOrThrow();
  assert.notEqual(lab.status, 'failed');
});
