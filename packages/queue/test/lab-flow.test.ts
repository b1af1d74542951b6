import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import {
  addLabTasks,
  createRedis,
  jobsOfQueue,
  type LabFlowTask,
  labJobId,
  startLabFlow,
  startWorkers,
} from '../src/index';
import { queueTestbed } from './testbed';

const bed = queueTestbed('labflow');
const { redis, logger } = bed;

// A diamond: net → a → (b, c) → d.
const graph: Record<string, { kind: LabFlowTask['kind']; dependsOn: string[] }> = {
  net: { kind: 'network', dependsOn: [] },
  a: { kind: 'vm-provision', dependsOn: ['net'] },
  b: { kind: 'vm-configure', dependsOn: ['a'] },
  c: { kind: 'vm-configure', dependsOn: ['a'] },
  d: { kind: 'vm-configure', dependsOn: ['b', 'c'] },
};

test('a diamond runs each task after all of its dependencies, and the root completes last', async () => {
  const labId = randomUUID();
  const log: string[] = [];
  const done = new Set<string>();
  const runTask = async (taskId: string) => {
    log.push(`start ${taskId}`);
    await new Promise((resolve) => setTimeout(resolve, taskId === 'b' ? 150 : 30));
    done.add(taskId);
    log.push(`end ${taskId}`);
    const ready = Object.entries(graph)
      .filter(
        ([id, task]) => !done.has(id) && task.dependsOn.includes(taskId) && task.dependsOn.every((d) => done.has(d)),
      )
      .map(([id, task]) => ({ id, kind: task.kind }));
    // Adding twice must be harmless (deterministic ids): a retry after a crash would do it.
    await addLabTasks(bed.producer, { labId, policy: 'fail' }, ready);
    await addLabTasks(bed.producer, { labId, policy: 'fail' }, ready);
  };
  const workers = startWorkers({
    connect: () => createRedis(redis.url, 'worker'),
    prefix: redis.prefix,
    queues: ['lab', 'network'],
    handlers: {
      // Every other job of these queues is not part of a lab's flow: a no-op here.
      ...Object.fromEntries(
        [...jobsOfQueue('lab'), ...jobsOfQueue('network')].map((name) => [name, async () => undefined]),
      ),
      'lab.run': async () => {
        log.push('root');
      },
      'lab.task': async ({ taskId }) => runTask(taskId),
      'network.create': async ({ taskId }) => runTask(taskId),
    },
    logger,
  });
  try {
    await startLabFlow(bed.producer, { labId, policy: 'fail', rootTasks: [{ id: 'net', kind: 'network' }] });
    await waitFor('root completion', () => log.includes('root'), { timeoutMs: 20_000 });
    const at = (entry: string) => log.indexOf(entry);
    for (const [id, task] of Object.entries(graph)) {
      for (const dependency of task.dependsOn) {
        assert.ok(at(`end ${dependency}`) < at(`start ${id}`), `${id} started before ${dependency} ended: ${log}`);
      }
    }
    assert.ok(at('start c') < at('end b'), 'b and c overlap');
    assert.equal(log.at(-1), 'root');
    assert.equal(log.filter((entry) => entry === 'start d').length, 1, 'd ran once despite the double add');
    const root = await bed.producer.queues.lab.getJob(labJobId(labId));
    assert.equal(await root?.getState(), 'completed');
  } finally {
    await workers.close();
  }
});

test('ready tasks waiting for a worker go by their remaining critical path, longest first', async () => {
  const labId = randomUUID();
  const order: string[] = [];
  const workers = startWorkers({
    connect: () => createRedis(redis.url, 'worker'),
    prefix: redis.prefix,
    queues: ['lab'],
    // One slot: what becomes ready while it is busy waits in the queue.
    concurrency: 1,
    handlers: {
      ...Object.fromEntries(jobsOfQueue('lab').map((name) => [name, async () => undefined])),
      'lab.run': async () => {
        order.push('root');
      },
      'lab.task': async ({ taskId }) => {
        order.push(taskId);
        if (taskId !== 'first') return;
        // Added in the order a finishing task might list them; the short chain first.
        await addLabTasks(bed.producer, { labId, policy: 'keep' }, [
          { id: 'short', kind: 'vm-configure', remainingMs: 30_000 },
          { id: 'long', kind: 'vm-provision', remainingMs: 300_000 },
          { id: 'tie-a', kind: 'vm-configure', remainingMs: 120_000 },
          { id: 'tie-b', kind: 'vm-configure', remainingMs: 120_000 },
          { id: 'mid', kind: 'vm-provision', remainingMs: 150_000 },
        ]);
      },
    },
    logger,
  });
  try {
    await startLabFlow(bed.producer, { labId, policy: 'keep', rootTasks: [{ id: 'first', kind: 'vm-provision' }] });
    await waitFor('root completion', () => order.includes('root'), { timeoutMs: 20_000 });
    assert.deepEqual(order, ['first', 'long', 'mid', 'tie-a', 'tie-b', 'short', 'root']);
  } finally {
    await workers.close();
  }
});
