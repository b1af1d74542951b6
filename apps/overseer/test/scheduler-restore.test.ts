import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '@glassdome/logger';
import { Producer } from '@glassdome/queue';
import { createRedisPrefix, type TestRedis, waitFor } from '@glassdome/testkit';
import { keepSchedulers, redriveSchedulerId, scanSchedulerId, upsertSchedulers } from '../src/scheduler';

let redis: TestRedis;
let producer: Producer;
before(async () => {
  redis = createRedisPrefix('schedulers');
  producer = await Producer.open(redis.url, redis.prefix);
});
after(async () => {
  await producer?.close();
  await redis?.cleanup();
});

const periods = { scanMs: 30_000, redriveMs: 30_000 };
const expected = [redriveSchedulerId('default'), scanSchedulerId('default')].sort();
const logger = createLogger({ name: 'schedulers-test', level: 'silent' });

async function schedulerIds(): Promise<string[]> {
  const schedulers = await producer.queues.overseer.getJobSchedulers();
  return schedulers.map((s) => String(s.key)).sort();
}

/** Redis restarted empty (without a dump): every key of the prefix is gone. */
async function loseEverything(): Promise<string[]> {
  const keys = await producer.connection.keys(`${redis.prefix}*`);
  await producer.connection.del(...keys);
  return keys;
}

test('the scan and re-drive schedulers come back on the next round after Redis lost them', async () => {
  await upsertSchedulers(producer, ['default'], periods);
  assert.deepEqual(await schedulerIds(), expected);
  const stop = keepSchedulers(producer, ['default'], periods, logger, 100);
  try {
    // The keeper's round may come between the loss and any read of it, so the
    // loss is shown by what was deleted: the overseer queue's scheduler set.
    const lost = await loseEverything();
    assert.ok(
      lost.some((key) => key.endsWith(':overseer:repeat')),
      `the scheduler set was among the deleted keys: ${lost.join(' ')}`,
    );
    await waitFor('schedulers upserted again', async () => (await schedulerIds()).length === 2, { timeoutMs: 5_000 });
    assert.deepEqual(await schedulerIds(), expected);
  } finally {
    stop();
  }
});

test('the schedulers come back as soon as the connection to Redis is ready again', async () => {
  await upsertSchedulers(producer, ['default'], periods);
  // A round far away: only the reconnect can bring them back within the wait.
  const stop = keepSchedulers(producer, ['default'], periods, logger, 600_000);
  try {
    await loseEverything();
    assert.deepEqual(await schedulerIds(), []);
    producer.connection.disconnect(true);
    await waitFor('schedulers upserted again', async () => (await schedulerIds()).length === 2, { timeoutMs: 5_000 });
    assert.deepEqual(await schedulerIds(), expected);
  } finally {
    stop();
  }
});
