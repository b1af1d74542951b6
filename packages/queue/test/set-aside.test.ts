/** A job set aside (waiting in a line outside) lends its worker slot: real Redis, a real BullMQ worker. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@glassdome/testkit';
import { createRedis, type Handlers, startWorkers } from '../src/index';
import { queueTestbed } from './testbed';

const bed = queueTestbed('queue-aside');
const { redis, logger } = bed;

/** The first vm.deploy waits aside until `open` is called; every other one just records that it ran. */
function waitingFirst(ran: string[]) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let first: string | undefined;
  const ok = async () => undefined;
  const handlers: Handlers = {
    'vm.deploy': async ({ vmId }, context) => {
      if (first === undefined) {
        first = vmId;
        // As a lab task does, some work first: the worker's fetch loop is asleep on its busy slot by then.
        await sleep(100);
        const back = context.setAside?.() ?? (() => {});
        ran.push('aside');
        await gate;
        back();
      }
      ran.push(vmId === first ? 'first' : vmId);
      return undefined;
    },
    'vm.destroy': ok,
    'vm.firewall': ok,
  };
  return { handlers, open: () => open() };
}

/** A worker group on the vm queue, one job at a time, running `handlers`. */
function vmWorkers(handlers: Handlers, maxAside?: number) {
  return startWorkers({
    connect: () => createRedis(redis.url, 'worker'),
    prefix: redis.prefix,
    queues: ['vm'],
    handlers,
    concurrency: 1,
    ...(maxAside === undefined ? {} : { maxAside }),
    logger,
  });
}

test('while its only job waits aside, a worker of concurrency 1 runs the next ones; then it is back to 1', async () => {
  const ran: string[] = [];
  const { handlers, open } = waitingFirst(ran);
  const group = vmWorkers(handlers);
  try {
    await bed.producer.enqueue('vm.deploy', { vmId: randomUUID() });
    await waitFor('the first job aside', () => ran.includes('aside'));
    const next = [randomUUID(), randomUUID()];
    for (const vmId of next) await bed.producer.enqueue('vm.deploy', { vmId });
    await waitFor('the next jobs, while the first waits', () => next.every((vmId) => ran.includes(vmId)), {
      timeoutMs: 5_000,
    });
    assert.ok(!ran.includes('first'), 'the first job was still waiting');
    open();
    await waitFor('the first job', () => ran.includes('first'));
    assert.equal(group.workers[0]!.concurrency, 1);
  } finally {
    open();
    await group.close();
  }
});

test('beyond maxAside a job waits in its slot: nothing else runs meanwhile', async () => {
  const ran: string[] = [];
  const { handlers, open } = waitingFirst(ran);
  const group = vmWorkers(handlers, 0);
  try {
    await bed.producer.enqueue('vm.deploy', { vmId: randomUUID() });
    await waitFor('the first job aside', () => ran.includes('aside'));
    const vmId = randomUUID();
    await bed.producer.enqueue('vm.deploy', { vmId });
    await sleep(500);
    assert.deepEqual(ran, ['aside']);
    open();
    await waitFor('both jobs', () => ran.includes(vmId));
    assert.deepEqual(ran, ['aside', 'first', vmId]);
  } finally {
    open();
    await group.close();
  }
});
