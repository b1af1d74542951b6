import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JOBS } from './catalog';
import { addLabTasks, labJobId, priorityOf } from './lab-flow';
import type { Producer } from './producer';

test('lab job ids are BullMQ-safe (no colon), unique per task and per run, deterministic', () => {
  const labId = '0b7c6c1e-7d1b-4f55-9a8e-3f1d2c4b5a69';
  const tasks = ['c0:net:lan', 'c1:net:lan', 'c0:vm:web:provision', 'c0:vm:web:configure', 'c1:vm:web:provision'];
  const ids = [0, 1, 2].flatMap((run) => [
    labJobId(labId, undefined, run),
    ...tasks.map((t) => labJobId(labId, t, run)),
  ]);
  assert.ok(ids.every((id) => !id.includes(':')));
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(labJobId(labId, 'c1:vm:web:provision'), `lab.${labId}.c1.vm.web.provision`);
  assert.equal(labJobId(labId, 'c1:vm:web:provision', 2), `lab.${labId}.r2.c1.vm.web.provision`);
});

test('a longer remaining critical path is a higher BullMQ priority (a smaller number), within its range', () => {
  assert.ok(priorityOf(300_000) < priorityOf(30_000));
  assert.ok(priorityOf(30_000) < priorityOf(29_000));
  assert.equal(priorityOf(0), 2 ** 21 - 1);
  assert.equal(priorityOf(1e15), 1);
  assert.equal(priorityOf(-5), 2 ** 21 - 1);
});

test('ready tasks are added the longest remaining chain first, one without a priority before them', async () => {
  const added: string[] = [];
  const queue = {
    add: async (_name: string, data: { taskId: string }) => {
      added.push(data.taskId);
    },
  };
  const producer = { prefix: '{t}', queues: { lab: queue, network: queue } } as unknown as Producer;
  await addLabTasks(producer, { labId: 'lab', policy: 'fail' }, [
    { id: 'short', kind: 'vm-provision', remainingMs: 2_000 },
    { id: 'long', kind: 'vm-provision', remainingMs: 9_000 },
    { id: 'none', kind: 'vm-configure' },
    { id: 'middle', kind: 'vm-provision', remainingMs: 5_000 },
  ]);
  assert.deepEqual(added, ['none', 'long', 'middle', 'short']);
});

test("a lab task's retries back off from the producer's base when it has one, else from the catalog's", async () => {
  const backoffs: unknown[] = [];
  const queue = {
    add: async (_name: string, _data: unknown, options: { backoff: unknown }) => {
      backoffs.push(options.backoff);
    },
  };
  const tasks = [
    { id: 'net', kind: 'network' as const },
    { id: 'vm', kind: 'vm-provision' as const },
  ];
  for (const labTaskBackoffMs of [undefined, 250]) {
    const producer = { prefix: '{t}', queues: { lab: queue, network: queue }, labTaskBackoffMs } as unknown as Producer;
    await addLabTasks(producer, { labId: 'lab', policy: 'fail' }, tasks);
  }
  assert.deepEqual(backoffs, [
    { type: 'exponential', delay: JOBS['network.create'].backoffMs },
    { type: 'exponential', delay: JOBS['lab.task'].backoffMs },
    { type: 'exponential', delay: 250 },
    { type: 'exponential', delay: 250 },
  ]);
});
