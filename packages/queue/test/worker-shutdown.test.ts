import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import {
  createRedis,
  type Handlers,
  InvalidJobPayloadError,
  Producer,
  RedisUnavailableError,
  startWorkers,
} from '../src/index';
import { queueTestbed } from './testbed';

const bed = queueTestbed('queue');
const { redis, logger } = bed;

function handlersFor(seen: string[], opts: { holdMs?: number } = {}): Handlers {
  const ok = async () => undefined;
  return {
    'vm.deploy': async ({ vmId }, { signal }) => {
      seen.push(`start:${vmId}`);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, opts.holdMs ?? 0);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new Error('aborted'));
        });
      });
      seen.push(`done:${vmId}`);
      return { vmId };
    },
    'vm.destroy': ok,
    'vm.firewall': ok,
  };
}

test('a payload that breaks the catalog schema is refused before it reaches Redis', async () => {
  await assert.rejects(
    // @ts-expect-error: wrong type on purpose
    bed.producer.enqueue('vm.deploy', { vmId: 42 }),
    (error: Error) => error instanceof InvalidJobPayloadError && error.message.includes('vmId'),
  );
  assert.equal(await bed.producer.queues.vm.count(), 0);
});

test('shutdown waits for a job that finishes within the bound', async () => {
  const seen: string[] = [];
  const group = startWorkers({
    connect: () => createRedis(redis.url, 'worker'),
    prefix: redis.prefix,
    queues: ['vm'],
    handlers: handlersFor(seen, { holdMs: 300 }),
    shutdownMs: 5_000,
    logger,
  });
  const vmId = randomUUID();
  const job = await bed.producer.enqueue('vm.deploy', { vmId });
  await waitFor('job start', () => seen.includes(`start:${vmId}`));
  await group.close();
  assert.deepEqual(seen, [`start:${vmId}`, `done:${vmId}`]);
  assert.equal(await (await bed.producer.queues.vm.getJob(job.id!))?.getState(), 'completed');
});

test('a job still running at the bound is handed back and finished by another worker', async () => {
  const firstSeen: string[] = [];
  const first = startWorkers({
    connect: () => createRedis(redis.url, 'worker'),
    prefix: redis.prefix,
    queues: ['vm'],
    handlers: handlersFor(firstSeen, { holdMs: 60_000 }),
    shutdownMs: 200,
    logger,
  });
  const vmId = randomUUID();
  const job = await bed.producer.enqueue('vm.deploy', { vmId });
  await waitFor('job start', () => firstSeen.includes(`start:${vmId}`));
  await first.close();
  assert.deepEqual(firstSeen, [`start:${vmId}`], 'the first worker did not finish it');
  assert.equal(await (await bed.producer.queues.vm.getJob(job.id!))?.getState(), 'waiting');

  const secondSeen: string[] = [];
  const second = startWorkers({
    connect: () => createRedis(redis.url, 'worker'),
    prefix: redis.prefix,
    queues: ['vm'],
    handlers: handlersFor(secondSeen),
    logger,
  });
  try {
    await waitFor('job completion', async () => (await bed.producer.queues.vm.getJob(job.id!))?.finishedOn);
    const finished = await bed.producer.queues.vm.getJob(job.id!);
    assert.equal(await finished?.getState(), 'completed');
    assert.equal(finished?.attemptsMade, 1, 'the hand-back did not spend an attempt');
    assert.deepEqual(secondSeen, [`start:${vmId}`, `done:${vmId}`]);
  } finally {
    await second.close();
  }
});

test('a producer fails fast when Redis is unreachable instead of hanging', async () => {
  await assert.rejects(Producer.open('redis://127.0.0.1:1', redis.prefix, { timeoutMs: 1_000 }), RedisUnavailableError);
});
