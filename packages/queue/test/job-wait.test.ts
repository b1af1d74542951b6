/** waitForJobEnd against real Redis and a real worker: each way a job can end (an answer included), a timeout and an abort. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createLogger } from '@glassdome/logger';
import { createRedisPrefix } from '@glassdome/testkit';
import { createRedis, PermanentError, Producer, startWorkers, waitForJobEnd } from '../src/index';

const redis = createRedisPrefix('jobwait');
const logger = createLogger({ name: 'test', level: 'silent' });
let producer: Producer;
let release: () => void = () => undefined;
const held = new Promise<void>((resolve) => {
  release = resolve;
});
let group: ReturnType<typeof startWorkers>;

before(async () => {
  producer = await Producer.open(redis.url, redis.prefix);
  group = startWorkers({
    connect: () => createRedis(redis.url, 'worker'),
    prefix: redis.prefix,
    queues: ['vm'],
    handlers: {
      'vm.deploy': async (payload) => {
        if (payload.vmId.startsWith('00000000')) throw new PermanentError('refused on purpose');
        if (payload.vmId.startsWith('11111111')) await held;
      },
      'vm.destroy': async (payload) => ({ destroyed: payload.vmId }),
      'vm.firewall': async () => undefined,
    },
    logger,
  });
});
after(async () => {
  release();
  await group.close();
  await producer.close();
  await redis.cleanup();
});

const signal = new AbortController().signal;

test('a completed job, a failed one with its reason, and one that never existed', async () => {
  const done = await producer.enqueue('vm.deploy', { vmId: randomUUID() }, { attempts: 1 });
  assert.deepEqual(await waitForJobEnd(producer.queues.vm, done.id!, { signal }), { state: 'completed', value: null });

  const refused = await producer.enqueue('vm.deploy', { vmId: `00000000${randomUUID().slice(8)}` }, { attempts: 1 });
  const end = await waitForJobEnd(producer.queues.vm, refused.id!, { signal });
  assert.equal(end?.state, 'failed');
  assert.match(end?.state === 'failed' ? end.reason : '', /refused on purpose/);

  assert.deepEqual(await waitForJobEnd(producer.queues.vm, 'no-such-job', { signal }), { state: 'gone' });

  // What the handler returned comes with its end (how a process asks another for an answer).
  const vmId = randomUUID();
  const answered = await producer.enqueue('vm.destroy', { vmId }, { attempts: 1 });
  assert.deepEqual(await waitForJobEnd(producer.queues.vm, answered.id!, { signal }), {
    state: 'completed',
    value: { destroyed: vmId },
  });
});

test('a job still running: undefined once the timeout passes, and an abort ends the wait', async () => {
  const running = await producer.enqueue('vm.deploy', { vmId: `11111111${randomUUID().slice(8)}` }, { attempts: 1 });
  assert.equal(await waitForJobEnd(producer.queues.vm, running.id!, { signal, timeoutMs: 600 }), undefined);
  assert.ok(['active', 'waiting'].includes(String(await (await producer.queues.vm.getJob(running.id!))?.getState())));

  const controller = new AbortController();
  const waiting = waitForJobEnd(producer.queues.vm, running.id!, { signal: controller.signal, maxDelayMs: 50 });
  controller.abort(new Error('stop waiting'));
  await assert.rejects(waiting, /stop waiting/);

  release();
  assert.deepEqual(await waitForJobEnd(producer.queues.vm, running.id!, { signal }), {
    state: 'completed',
    value: null,
  });
});
