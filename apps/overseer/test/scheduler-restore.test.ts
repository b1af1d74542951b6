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

async function schedulerIds(): Promise<string[]> {
  const schedulers = await producer.queues.overseer.getJobSchedulers();
  return schedulers.map((s) => String(s.key)).sort();
}

test('the scan and re-drive schedulers come back after Redis lost them', async () => {
  const periods = { scanMs: 30_000, redriveMs: 30_000 };
  await upsertSchedulers(producer, ['default'], periods);
  const expected = [redriveSchedulerId('default'), scanSchedulerId('default')].sort();
  assert.deepEqual(await schedulerIds(), expected);
  const logger = createLogger({ name: 'schedulers-test', level: 'silent' });
  const stop = keepSchedulers(producer, ['default'], periods, logger, 100);
  try {
    // Redis restarted empty (without a dump): every key of the prefix is gone.
    const keys = await producer.connection.keys(`${redis.prefix}*`);
    await producer.connection.del(...keys);
    assert.deepEqual(await schedulerIds(), []);
    await waitFor('schedulers upserted again', async () => (await schedulerIds()).length === 2, { timeoutMs: 5_000 });
    assert.deepEqual(await schedulerIds(), expected);
  } finally {
    stop();
  }
});
