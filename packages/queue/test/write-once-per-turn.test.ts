/**
 * A worker connection's commands of one turn of the event loop reach its socket in one write
 * (writeOncePerTurn), in order, and on the socket of a reconnect too (real Redis).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRedisPrefix } from '@glassdome/testkit';
import { createRedis, writeOncePerTurn } from '../src/connection';
import { Producer } from '../src/producer';

const bed = createRedisPrefix('queue-write-turn');
test.after(() => bed.cleanup());

/** Counts the socket's writes handed to the system (one per `_write` or `_writev` call). */
function countWrites(redis: ReturnType<typeof createRedis>): { writes: number } {
  const socket = (redis as unknown as { stream: Record<string, (...args: unknown[]) => unknown> }).stream;
  const counter = { writes: 0 };
  for (const name of ['_write', '_writev'] as const) {
    const original = socket[name]!;
    socket[name] = function (this: unknown, ...args: unknown[]) {
      counter.writes++;
      return original.apply(this, args);
    };
  }
  return counter;
}

async function turnOfCommands(redis: ReturnType<typeof createRedis>, key: string): Promise<number> {
  const counter = countWrites(redis);
  const replies = await Promise.all(Array.from({ length: 20 }, () => redis.incr(key)));
  assert.deepEqual(
    replies,
    Array.from({ length: 20 }, (_, index) => replies[0]! + index),
    'in order',
  );
  return counter.writes;
}

test('twenty commands of one turn: one write with writeOncePerTurn, twenty without, also after a reconnect', async () => {
  const plain = createRedis(bed.url, 'worker');
  const corked = createRedis(bed.url, 'worker');
  writeOncePerTurn(corked);
  try {
    await Promise.all([plain.ping(), corked.ping()]);
    assert.equal(await turnOfCommands(plain, `${bed.prefix}:plain`), 20);
    assert.equal(await turnOfCommands(corked, `${bed.prefix}:corked`), 1);
    corked.disconnect(true);
    await new Promise((resolve) => corked.once('ready', resolve));
    assert.equal(await turnOfCommands(corked, `${bed.prefix}:corked`), 1, 'the new socket too');
  } finally {
    plain.disconnect();
    corked.disconnect();
  }
});

test("the producer's adds of one turn (a finished lab task's ready tasks) go in one write", async () => {
  const producer = await Producer.open(bed.url, bed.prefix);
  try {
    // The queues' own start-up commands (BullMQ reads the server's version) are done first.
    await producer.queues.lab.waitUntilReady();
    const counter = countWrites(producer.connection);
    const jobs = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        producer.queues.lab.add('lab.task', { index }, { jobId: `turn-${index}` }),
      ),
    );
    assert.equal(jobs.length, 20);
    assert.equal(counter.writes, 1);
    assert.equal(await producer.queues.lab.count(), 20);
  } finally {
    await producer.close();
  }
});
