/**
 * A worker that finds its queue full takes the waiting jobs a few round trips at a time, not one per
 * round trip (FetchAhead), each job run once (real Redis, a real worker group).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createRedis, type Handlers, startWorkers } from '../src/index';
import { queueTestbed } from './testbed';

const bed = queueTestbed('queue-fetch-ahead');
const { redis, logger } = bed;
const JOBS = 40;

/** Counts the socket's writes handed to the system (one per `_write` or `_writev` call). */
function countWrites(connection: ReturnType<typeof createRedis>): { writes: number } {
  const socket = (connection as unknown as { stream: Record<string, (...args: unknown[]) => unknown> }).stream;
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

/**
 * Adds JOBS waiting vm.deploy jobs, then starts a worker group with room for all of them, whose
 * handlers each wait until every job has started: the worker connection's writes by then, and how
 * many times each job ran.
 */
async function takeBurst(maxFetchAhead: number | undefined): Promise<{ writes: number; runs: Map<string, number> }> {
  const ids = Array.from({ length: JOBS }, () => randomUUID());
  await Promise.all(ids.map((vmId) => bed.producer.enqueue('vm.deploy', { vmId }, { attempts: 1 })));
  const connection = createRedis(redis.url, 'worker');
  await connection.ping();
  const counter = countWrites(connection);
  const runs = new Map<string, number>();
  let release!: () => void;
  const allStarted = new Promise<void>((resolve) => {
    release = resolve;
  });
  let ended = 0;
  let allEnded!: () => void;
  const done = new Promise<void>((resolve) => {
    allEnded = resolve;
  });
  const ok = async () => undefined;
  const handlers: Handlers = {
    'vm.deploy': async ({ vmId }) => {
      runs.set(vmId, (runs.get(vmId) ?? 0) + 1);
      if (runs.size === JOBS) release();
      await allStarted;
      if (++ended === JOBS) allEnded();
    },
    'vm.destroy': ok,
    'vm.firewall': ok,
  };
  const group = startWorkers({
    connect: () => connection,
    prefix: redis.prefix,
    queues: ['vm'],
    handlers,
    concurrency: 64,
    ...(maxFetchAhead === undefined ? {} : { maxFetchAhead }),
    logger,
  });
  try {
    await allStarted;
    const writes = counter.writes;
    await done;
    return { writes, runs };
  } finally {
    await group.close();
  }
}

test('a burst of waiting jobs is taken in a few round trips, each job run once; one a round trip with maxFetchAhead 0', async () => {
  const ahead = await takeBurst(undefined);
  assert.equal(ahead.runs.size, JOBS);
  assert.ok(
    [...ahead.runs.values()].every((n) => n === 1),
    'each job ran once',
  );
  const one = await takeBurst(0);
  assert.equal(one.runs.size, JOBS);
  assert.ok(
    [...one.runs.values()].every((n) => n === 1),
    'each job ran once',
  );
  // One take per write without it (and the worker's own start-up commands); a take and its
  // companions share one write with it.
  assert.ok(one.writes >= JOBS, `one a round trip: ${one.writes} writes`);
  assert.ok(ahead.writes <= JOBS / 2, `taken ahead: ${ahead.writes} writes`);
});
