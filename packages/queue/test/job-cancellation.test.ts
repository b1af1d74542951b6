import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '@glassdome/logger';
import { createRedisPrefix, waitFor } from '@glassdome/testkit';
import { Redis } from 'ioredis';
import {
  createRedis,
  type Handlers,
  JobLockLostError,
  JobTimeoutError,
  Producer,
  startWorkers,
  type WorkerGroupOptions,
} from '../src/index';

const redis = createRedisPrefix('cancel');
let logText = '';
const logger = createLogger({
  name: 'test',
  level: 'info',
  format: 'json',
  destination: new Writable({
    write: (chunk, _e, cb) => {
      logText += chunk.toString();
      cb();
    },
  }),
});
let producer: Producer;
let raw: Redis;
before(async () => {
  producer = await Producer.open(redis.url, redis.prefix);
  raw = new Redis(redis.url);
});
after(async () => {
  await producer.close();
  raw.disconnect();
  await redis.cleanup();
});

function workers(handlers: Handlers, extra: Partial<WorkerGroupOptions> = {}) {
  return startWorkers({
    connect: () => createRedis(redis.url, 'worker'),
    prefix: redis.prefix,
    queues: ['vm'],
    handlers: { 'vm.destroy': async () => undefined, 'vm.firewall': async () => undefined, ...handlers },
    logger,
    ...extra,
  });
}

/** Resolves with the signal's reason once it fires. */
function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(signal.reason);
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}

test('a timed-out job is aborted and settles only after its handler has stopped', async () => {
  const seen: string[] = [];
  const group = workers(
    {
      'vm.deploy': async (_payload, { signal }) => {
        seen.push('started');
        const reason = await aborted(signal);
        seen.push(`aborted:${(reason as Error).name}`);
        // Cleaning up after the abort takes a while; the job must not be settled meanwhile.
        await sleep(400);
        seen.push('returned');
        throw reason;
      },
    },
    { timeouts: { 'vm.deploy': 300 } },
  );
  try {
    const job = await producer.enqueue('vm.deploy', { vmId: randomUUID() }, { attempts: 1 });
    let stateWhenAborted: string | undefined;
    await waitFor('abort', async () => {
      if (!seen.includes('aborted:JobTimeoutError')) return false;
      stateWhenAborted ??= await (await producer.queues.vm.getJob(job.id!))?.getState();
      return true;
    });
    assert.equal(stateWhenAborted, 'active', 'still active while the handler cleans up');
    await waitFor('job failed', async () => (await producer.queues.vm.getJob(job.id!))?.finishedOn);
    const finished = await producer.queues.vm.getJob(job.id!);
    assert.deepEqual(seen, ['started', 'aborted:JobTimeoutError', 'returned']);
    assert.equal(await finished?.getState(), 'failed');
    assert.match(finished?.failedReason ?? '', new RegExp(new JobTimeoutError('vm.deploy', 300).message));
  } finally {
    await group.close();
  }
});

test('a job whose lock is lost is aborted before its next side effect and left to others', async () => {
  let effects = 0;
  let reason: unknown;
  let stoppedAt = -1;
  const group = workers(
    {
      'vm.deploy': async (_payload, { signal }) => {
        // One side effect every 50 ms, each checking the signal first, as every step does.
        for (;;) {
          if (signal.aborted) {
            reason = signal.reason;
            stoppedAt = effects;
            return;
          }
          effects += 1;
          await sleep(50);
        }
      },
    },
    { lockMs: 1_000 },
  );
  try {
    const job = await producer.enqueue('vm.deploy', { vmId: randomUUID() });
    await waitFor('side effects', () => effects >= 3);
    // Another worker took the job over: its lock now holds someone else's token.
    await raw.set(`${redis.prefix}:vm:${job.id}:lock`, 'someone-else', 'PX', 60_000);
    await waitFor('abort on lock loss', () => stoppedAt >= 0, { timeoutMs: 10_000 });
    assert.ok(reason instanceof JobLockLostError, String(reason));
    await sleep(200);
    assert.equal(effects, stoppedAt, 'no side effect after the abort');
    const state = await (await producer.queues.vm.getJob(job.id!))?.getState();
    assert.notEqual(state, 'failed', 'losing the lock is not a failure of the job');
    assert.notEqual(state, 'completed');
  } finally {
    await group.close();
  }
});

test('Postgres or Redis being unreachable delays a job without spending its attempts', async () => {
  let calls = 0;
  const group = workers(
    {
      'vm.deploy': async () => {
        calls += 1;
        // More outages in a row than the job has attempts (5): a pg error, a pool all in use, then
        // socket-level ones.
        if (calls === 1)
          throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
        if (calls === 2) {
          const busy = new Error(
            'all 10 Postgres connections of this process were in use (3 more callers waiting): timeout exceeded when trying to connect',
          );
          throw Object.assign(busy, { name: 'PostgresPoolBusyError' });
        }
        if (calls <= 7) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        return { ok: true };
      },
    },
    { outageBackoffMaxMs: 100 },
  );
  try {
    const job = await producer.enqueue('vm.deploy', { vmId: randomUUID() });
    await waitFor('job completion', async () => (await producer.queues.vm.getJob(job.id!))?.finishedOn, {
      timeoutMs: 20_000,
    });
    const finished = await producer.queues.vm.getJob(job.id!);
    assert.equal(await finished?.getState(), 'completed');
    assert.equal(calls, 8);
    assert.equal(finished?.attemptsMade, 1, 'only the attempt that succeeded counted');
    assert.match(logText, /every Postgres connection of this process in use: job delayed, no attempt spent/);
    assert.match(logText, /Postgres or Redis unreachable: job delayed, no attempt spent/);
  } finally {
    await group.close();
  }
});

test('a transaction Postgres rolled back for a deadlock or a serialization failure is run again without spending an attempt', async () => {
  let calls = 0;
  logText = '';
  const vmId = randomUUID();
  const group = workers(
    {
      'vm.deploy': async (payload) => {
        if (payload.vmId !== vmId) return undefined;
        calls += 1;
        // More conflicts in a row than the job has attempts (5), wrapped as a caller may wrap them.
        if (calls <= 3) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
        if (calls <= 6) {
          const conflict = Object.assign(new Error('could not serialize access'), { code: '40001' });
          throw new Error('recording the step failed', { cause: conflict });
        }
        return { ok: true };
      },
    },
    { outageBackoffMaxMs: 100 },
  );
  try {
    const job = await producer.enqueue('vm.deploy', { vmId });
    await waitFor('job completion', async () => (await producer.queues.vm.getJob(job.id!))?.finishedOn, {
      timeoutMs: 20_000,
    });
    const finished = await producer.queues.vm.getJob(job.id!);
    assert.equal(await finished?.getState(), 'completed');
    assert.equal(calls, 7);
    assert.equal(finished?.attemptsMade, 1, 'only the attempt that succeeded counted');
    assert.match(
      logText,
      /transaction rolled back by a conflict \(deadlock or serialization\): job delayed, no attempt spent/,
    );
  } finally {
    await group.close();
  }
});

test('an unreachable Redis is reported in one structured line, not a stack per failed command', async () => {
  logText = '';
  const dead = createRedis('redis://127.0.0.1:1', 'worker', {}, logger);
  try {
    await waitFor('first report', () => logText.includes('Redis connection error'));
    await sleep(1_500);
  } finally {
    dead.disconnect();
  }
  const lines = logText.trim().split('\n');
  const reports = lines.filter((line) => line.includes('Redis connection error'));
  assert.equal(reports.length, 1, logText);
  const parsed = JSON.parse(reports[0]!);
  assert.equal(parsed.code, 'ECONNREFUSED');
  assert.equal(parsed.stack, undefined);
  assert.ok(
    lines.every((line) => line.startsWith('{')),
    'every line is JSON',
  );
});

test('a job whose lock lapses twice (Redis lost it, its worker stalled) is put back, not failed', async () => {
  let runs = 0;
  const vmId = randomUUID();
  const group = workers(
    {
      'vm.deploy': async (payload, { signal }) => {
        // Jobs an earlier test left behind may come back here; only this test's counts.
        if (payload.vmId !== vmId) return undefined;
        runs += 1;
        if (runs > 2) return { ok: true };
        await aborted(signal);
        throw signal.reason;
      },
    },
    { lockMs: 1_000 },
  );
  try {
    const job = await producer.enqueue('vm.deploy', { vmId });
    for (let lapse = 1; lapse <= 2; lapse++) {
      await waitFor(`run ${lapse}`, () => runs === lapse, { timeoutMs: 15_000 });
      // The lock vanishes as it does when Redis restarts without it: nobody holds the job any more.
      await raw.del(`${redis.prefix}:vm:${job.id}:lock`);
      // Earlier tests' workers (30 s locks) leave BullMQ's once-per-interval stalled-check guard set.
      await raw.del(`${redis.prefix}:vm:stalled-check`);
    }
    await waitFor('job completion', async () => (await producer.queues.vm.getJob(job.id!))?.finishedOn, {
      timeoutMs: 20_000,
    });
    assert.equal(await (await producer.queues.vm.getJob(job.id!))?.getState(), 'completed');
    assert.equal(runs, 3);
    const stalls = logText.split('\n').filter((line) => line.includes('job found stalled') && line.includes(job.id!));
    assert.ok(stalls.length >= 2, `each lapse is logged with its job: ${stalls.length} lines`);
  } finally {
    await group.close();
  }
});
