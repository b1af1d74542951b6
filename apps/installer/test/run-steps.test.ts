/**
 * runSteps against a real Postgres: a quiet step runs before its start is recorded and is recorded
 * started and done with the next step's start and the VM's first status change, in one statement; a
 * quiet step that fails is recorded failed with its try counted; one after a step that ended is not
 * quiet; what a step learned of its VM (`writes`) lands with its end, and a step interrupted before
 * that record has written nothing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db, insertLab, insertVms, listSteps, migrateToLatest, planSteps } from '@glassdome/db';
import { createTestDatabase, reportingStatements, type TestDatabase } from '@glassdome/testkit';
import type { InstallerContext } from '../src/context';
import { runSteps, type Step } from '../src/pipeline';

let database: TestDatabase;
let db: Db;
let ctx: InstallerContext;
before(async () => {
  database = await createTestDatabase('run_steps');
  db = createDb(database.url);
  await migrateToLatest(db);
  ctx = { db } as InstallerContext;
});
after(async () => {
  await db?.destroy();
  await database?.drop();
});

const NAMES = ['lease', 'work', 'last'];

async function labVm(name: string) {
  const labId = await insertLab(db, {
    name,
    platformId: 'default',
    spec: {},
    graph: {},
    onFailure: 'fail',
    copies: 1,
    expiresAt: null,
  });
  const [vmId] = await insertVms(db, [
    { labId, copy: 0, name: 'vm', os: 'ubuntu-22.04', platformId: 'default', node: 'pve', spec: {} },
  ]);
  await planSteps(db, { vmId: vmId!, labId }, NAMES);
  return { labId, vmId: vmId! };
}

/** Counts the statements `work` sends through the context's database handle. */
async function statementsDuring(work: (ctx: InstallerContext) => Promise<unknown>): Promise<number> {
  let statements = 0;
  const counting = reportingStatements(db, () => statements++);
  await work({ ...ctx, db: counting } as InstallerContext);
  return statements;
}

const vmRow = (vmId: string) =>
  db.selectFrom('vms').select(['vmid', 'status']).where('id', '=', vmId).executeTakeFirstOrThrow();
const messages = async (vmId: string) =>
  (await db.selectFrom('events').select('message').where('vm_id', '=', vmId).orderBy('id').execute()).map(
    (e) => e.message,
  );

test('a quiet first step is recorded with the next start and the VM move: one statement fewer', async () => {
  const owner = await labVm('quiet-a');
  let vmid: number | undefined;
  const steps = (quiet: boolean): Step[] => [
    {
      name: 'lease',
      quiet,
      run: async () => {
        vmid = 4100;
        return { vmid };
      },
      writes: () => ({ vmid: vmid! }),
    },
    { name: 'work', run: async () => undefined },
    { name: 'last', run: async () => undefined },
  ];
  const deploy = { from: ['queued'], to: 'deploying' };
  const signal = new AbortController().signal;
  const quietCount = await statementsDuring((counted) =>
    runSteps(counted, owner, steps(true), { signal, onStart: deploy, recorded: [] }),
  );
  assert.deepEqual(await vmRow(owner.vmId), { vmid: 4100, status: 'deploying' });
  const rows = await listSteps(db, owner);
  assert.deepEqual(
    rows.map((s) => [s.name, s.status, s.attempts]),
    [
      ['lease', 'done', 1],
      ['work', 'done', 1],
      ['last', 'done', 1],
    ],
  );
  assert.ok(rows[0]!.started_at! <= rows[0]!.finished_at!);
  assert.deepEqual(await messages(owner.vmId), [
    'lease started',
    'lease done',
    'work started',
    'work done',
    'last started',
    'last done',
  ]);

  const loud = await labVm('quiet-b');
  const loudCount = await statementsDuring((counted) =>
    runSteps(counted, loud, steps(false), { signal, onStart: deploy, recorded: [] }),
  );
  assert.equal(quietCount, 3, 'lease with the start of work, work with the start of last, and last');
  assert.deepEqual(await vmRow(loud.vmId), { vmid: 4100, status: 'deploying' });
  assert.equal(loudCount - quietCount, 1, `one statement fewer (${loudCount} against ${quietCount})`);
});

test('a quiet step that fails is recorded failed with its try counted, the VM moved with it', async () => {
  const owner = await labVm('quiet-c');
  const steps: Step[] = [
    {
      name: 'lease',
      quiet: true,
      run: async () => {
        throw new Error('no lease left');
      },
      writes: () => ({ vmid: 1 }),
    },
    { name: 'work', run: async () => undefined },
  ];
  await assert.rejects(
    runSteps(ctx, owner, steps, {
      signal: new AbortController().signal,
      onStart: { from: ['queued'], to: 'deploying' },
    }),
    /no lease left/,
  );
  const rows = await listSteps(db, owner);
  assert.deepEqual(
    [rows[0]!.name, rows[0]!.status, rows[0]!.attempts, rows[0]!.error],
    ['lease', 'failed', 1, 'no lease left'],
  );
  assert.equal(rows[1]!.status, 'pending');
  assert.deepEqual(await vmRow(owner.vmId), { vmid: null, status: 'deploying' }, 'nothing it learned is written');
  assert.deepEqual(await messages(owner.vmId), ['lease started', 'lease failed: no lease left']);
});

test('a quiet step cut short leaves it pending and writes nothing; one after an ended step records its start first', async () => {
  const owner = await labVm('quiet-d');
  const stop = new AbortController();
  let ranWork = 0;
  const steps: Step[] = [
    {
      name: 'lease',
      quiet: true,
      run: async () => {
        // The process dies meanwhile: nothing after this runs (the job's retry starts over).
        stop.abort(new Error('killed'));
        return new Promise(() => undefined);
      },
      writes: () => ({ vmid: 9 }),
    },
  ];
  const cut = runSteps(ctx, owner, steps, { signal: stop.signal, onStart: { from: ['queued'], to: 'deploying' } });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const rows = await listSteps(db, owner);
  assert.deepEqual([rows[0]!.status, rows[0]!.attempts], ['pending', 0], 'no trace of the quiet try');
  assert.deepEqual(await vmRow(owner.vmId), { vmid: null, status: 'queued' });
  void cut;

  // The retry: the quiet step runs again; a quiet step after one that ended is recorded as any other.
  const again: Step[] = [
    { name: 'lease', quiet: true, run: async () => ({ vmid: 9 }), writes: () => ({ vmid: 9 }) },
    {
      name: 'work',
      quiet: true,
      run: async () => {
        ranWork++;
        const running = (await listSteps(db, owner)).find((s) => s.name === 'work');
        assert.equal(running?.status, 'running', 'its start recorded before it ran');
        return undefined;
      },
    },
  ];
  await runSteps(ctx, owner, again, {
    signal: new AbortController().signal,
    onStart: { from: ['queued'], to: 'deploying' },
  });
  assert.equal(ranWork, 1);
  assert.deepEqual(await vmRow(owner.vmId), { vmid: 9, status: 'deploying' });
  assert.deepEqual(
    (await listSteps(db, owner)).map((s) => [s.name, s.status, s.attempts]),
    [
      ['lease', 'done', 1],
      ['work', 'done', 1],
      ['last', 'pending', 0],
    ],
  );
});

test("a first step the caller's statement started is not started again; a stop before it records it failed", async () => {
  const owner = await labVm('caller-started');
  const signal = new AbortController().signal;
  // The caller's statement (a lab task's start) recorded `work` started; `lease` was done before.
  await db
    .updateTable('steps')
    .set({ status: 'done', attempts: 1 })
    .where('vm_id', '=', owner.vmId)
    .where('name', '=', 'lease')
    .execute();
  await db
    .updateTable('steps')
    .set({ status: 'running', attempts: 1 })
    .where('vm_id', '=', owner.vmId)
    .where('name', '=', 'work')
    .execute();
  const recorded = [
    { name: 'lease', status: 'done', attempts: 1, error: null },
    { name: 'work', status: 'pending', attempts: 0, error: null },
    { name: 'last', status: 'pending', attempts: 0, error: null },
  ];
  const tries: number[] = [];
  const steps: Step[] = [
    { name: 'lease', run: async () => assert.fail('done already') },
    {
      name: 'work',
      run: async (attempts) => {
        tries.push(attempts);
        return undefined;
      },
    },
    { name: 'last', run: async () => undefined },
  ];
  const count = await statementsDuring((counted) =>
    runSteps(counted, owner, steps, { signal, recorded, started: 'work' }),
  );
  assert.equal(count, 2, "work's end with last's start, and last's end: no start of work");
  assert.deepEqual(tries, [0], 'told the tries before the start');
  assert.deepEqual(
    (await listSteps(db, owner)).map((s) => [s.name, s.status, s.attempts]),
    [
      ['lease', 'done', 1],
      ['work', 'done', 1],
      ['last', 'done', 1],
    ],
  );

  const stopped = await labVm('caller-started-stopped');
  // The lab is cancelled before the first step to run: `started` names the step the caller started.
  const cancelledRun = (started: string) =>
    assert.rejects(
      runSteps(ctx, stopped, steps.slice(1), {
        signal,
        recorded: recorded.slice(1),
        started,
        before: async () => {
          throw new Error('lab cancelled');
        },
      }),
      /lab cancelled/,
    );
  await db
    .updateTable('steps')
    .set({ status: 'running', attempts: 1 })
    .where('vm_id', '=', stopped.vmId)
    .where('name', '=', 'lease')
    .execute();
  await cancelledRun('lease');
  // `lease` is not among the steps run here: it was not the first to run, so nothing of it is recorded.
  assert.deepEqual(
    (await listSteps(db, stopped)).map((s) => [s.name, s.status]),
    [
      ['lease', 'running'],
      ['work', 'pending'],
      ['last', 'pending'],
    ],
  );
  await cancelledRun('work');
  const work = (await listSteps(db, stopped)).find((s) => s.name === 'work');
  assert.deepEqual([work?.status, work?.error], ['failed', 'lab cancelled'], 'the started step is not left running');
});

test('a step whose end waits is recorded done with the quiet step after it, at its own time: one statement fewer', async () => {
  const signal = new AbortController().signal;
  const steps = (waits: boolean): Step[] => [
    { name: 'lease', run: async () => undefined },
    { name: 'work', run: async () => ({ ran: 'work' }), writes: () => ({ vmid: 4200 }), endWaits: waits },
    {
      name: 'last',
      quiet: true,
      run: async () => {
        // The quiet step runs with the step before it still running (its end waits for this one's).
        const rows = await listSteps(db, waits ? owner : loud);
        assert.deepEqual(
          rows.map((s) => [s.name, s.status]),
          [
            ['lease', 'done'],
            ['work', waits ? 'running' : 'done'],
            ['last', waits ? 'pending' : 'running'],
          ],
        );
        await new Promise((resolve) => setTimeout(resolve, 60));
        return undefined;
      },
    },
  ];
  const owner = await labVm('waits-a');
  const loud = await labVm('waits-b');
  const deploy = { from: ['queued'], to: 'deploying' };
  const ready = { move: { from: ['deploying'], to: 'ready' }, events: () => [{ kind: 'vm.ready', message: 'ready' }] };
  const waitingCount = await statementsDuring((counted) =>
    runSteps(counted, owner, steps(true), { signal, onStart: deploy, onDone: ready, recorded: [] }),
  );
  const loudCount = await statementsDuring((counted) =>
    runSteps(counted, loud, steps(false), { signal, onStart: deploy, onDone: ready, recorded: [] }),
  );
  assert.equal(waitingCount, 3, "lease's start, its end with work's start, work's end with last's and the move");
  assert.equal(loudCount - waitingCount, 1, `one statement fewer (${loudCount} against ${waitingCount})`);
  for (const vm of [owner, loud]) {
    assert.deepEqual(await vmRow(vm.vmId), { vmid: 4200, status: 'ready' }, 'what work learned, written');
    const rows = await listSteps(db, vm);
    assert.deepEqual(
      rows.map((s) => [s.name, s.status, s.attempts, s.detail]),
      [
        ['lease', 'done', 1, null],
        ['work', 'done', 1, { ran: 'work' }],
        ['last', 'done', 1, null],
      ],
    );
    const [, work, last] = rows;
    // work ended before last began, and last ran its 60 ms: each step keeps its own times.
    assert.ok(work!.finished_at!.getTime() <= last!.started_at!.getTime() + 1, 'work ended before last started');
    const lastRan = last!.finished_at!.getTime() - last!.started_at!.getTime();
    assert.ok(lastRan >= 55, `last ran ${lastRan} ms`);
    assert.deepEqual(await messages(vm.vmId), [
      'lease started',
      'lease done',
      'work started',
      'work done',
      'last started',
      'last done',
      'ready',
    ]);
  }
});

test('a crash while the quiet step after a waiting end runs leaves that step running: the retry runs it again', async () => {
  const owner = await labVm('waits-crash');
  const stop = new AbortController();
  let workRuns = 0;
  const steps = (crash: boolean): Step[] => [
    {
      name: 'work',
      run: async () => {
        workRuns++;
        return undefined;
      },
      endWaits: true,
    },
    {
      name: 'last',
      quiet: true,
      run: async () => {
        if (!crash) return undefined;
        // The process dies meanwhile: nothing after this runs.
        stop.abort(new Error('killed'));
        return new Promise(() => undefined);
      },
    },
  ];
  void runSteps(ctx, owner, steps(true), { signal: stop.signal, recorded: [] });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(
    (await listSteps(db, owner)).map((s) => [s.name, s.status, s.attempts]),
    [
      ['lease', 'pending', 0],
      ['work', 'running', 1],
      ['last', 'pending', 0],
    ],
  );
  // A failure (not a crash) still records the waiting end: done, with the quiet step failed.
  const failed = await labVm('waits-failed');
  await assert.rejects(
    runSteps(
      ctx,
      failed,
      [
        steps(false)[0]!,
        {
          name: 'last',
          quiet: true,
          run: async () => {
            throw new Error('refused');
          },
        },
      ],
      { signal: new AbortController().signal, recorded: [] },
    ),
    /refused/,
  );
  assert.deepEqual(
    (await listSteps(db, failed)).map((s) => [s.name, s.status, s.attempts, s.error]),
    [
      ['lease', 'pending', 0, null],
      ['work', 'done', 1, null],
      ['last', 'failed', 1, 'refused'],
    ],
  );
  // The retry of the crashed one runs work again (its repeat is harmless), then last.
  workRuns = 0;
  await runSteps(ctx, owner, steps(false), { signal: new AbortController().signal });
  assert.equal(workRuns, 1);
  assert.deepEqual(
    (await listSteps(db, owner)).map((s) => [s.name, s.status, s.attempts]),
    [
      ['lease', 'pending', 0],
      ['work', 'done', 2],
      ['last', 'done', 1],
    ],
  );
});

test('ends wait along a chain of quiet steps: three steps, two statements, each with its own times', async () => {
  const owner = await labVm('waits-chain');
  const pause = () => new Promise((resolve) => setTimeout(resolve, 40));
  const steps: Step[] = [
    { name: 'lease', run: async () => ({ leased: true }), endWaits: true },
    {
      name: 'work',
      quiet: true,
      endWaits: true,
      run: async () => {
        await pause();
        return { worked: true };
      },
      writes: () => ({ vmid: 4300 }),
    },
    {
      name: 'last',
      quiet: true,
      run: async () => {
        await pause();
        return undefined;
      },
      writes: () => ({ ip: '10.9.9.9' }),
    },
  ];
  const count = await statementsDuring((counted) =>
    runSteps(counted, owner, steps, {
      signal: new AbortController().signal,
      onStart: { from: ['queued'], to: 'deploying' },
      recorded: [],
    }),
  );
  assert.equal(count, 2, "lease's start with the move, then the three ends");
  const rows = await listSteps(db, owner);
  assert.deepEqual(
    rows.map((s) => [s.name, s.status, s.attempts, s.detail]),
    [
      ['lease', 'done', 1, { leased: true }],
      ['work', 'done', 1, { worked: true }],
      ['last', 'done', 1, null],
    ],
  );
  const [lease, work, last] = rows.map((s) => ({ start: s.started_at!.getTime(), end: s.finished_at!.getTime() }));
  assert.ok(lease!.end <= work!.start + 1 && work!.end <= last!.start + 1, 'one after the other');
  for (const [name, step] of [
    ['work', work!],
    ['last', last!],
  ] as const) {
    assert.ok(step.end - step.start >= 35, `${name} ran ${step.end - step.start} ms`);
  }
  const vm = await db
    .selectFrom('vms')
    .select(['vmid', 'ip', 'status'])
    .where('id', '=', owner.vmId)
    .executeTakeFirst();
  assert.deepEqual(vm, { vmid: 4300, ip: '10.9.9.9', status: 'deploying' }, 'what both learned, written');
  assert.deepEqual(await messages(owner.vmId), [
    'lease started',
    'lease done',
    'work started',
    'work done',
    'last started',
    'last done',
  ]);
});
