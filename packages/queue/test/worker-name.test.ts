/** Which process ran a job: BullMQ records the worker's name on each job it takes (real Redis, a real worker). */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { createRedis, type Handlers, startWorkers, waitForJobEnd } from '../src/index';
import { queueTestbed } from './testbed';

const bed = queueTestbed('queue-name');
const { redis, logger } = bed;
const ok = async () => undefined;
const handlers: Handlers = { 'vm.deploy': ok, 'vm.destroy': ok, 'vm.firewall': ok };
const signal = new AbortController().signal;

function vmWorkers(name?: string) {
  return startWorkers({
    connect: () => createRedis(redis.url, 'worker'),
    prefix: redis.prefix,
    queues: ['vm'],
    handlers,
    ...(name === undefined ? {} : { name }),
    logger,
  });
}

/** Runs one vm.deploy on a worker group named `name` (undefined: the default) and returns its job's processedBy. */
async function processedBy(name?: string): Promise<string | undefined> {
  const group = vmWorkers(name);
  try {
    const job = await bed.producer.enqueue('vm.deploy', { vmId: randomUUID() }, { attempts: 1 });
    assert.equal((await waitForJobEnd(bed.producer.queues.vm, job.id!, { signal }))?.state, 'completed');
    return (await bed.producer.queues.vm.getJob(job.id!))?.processedBy;
  } finally {
    await group.close();
  }
}

test('a job taken by a worker group records <host>:<pid> of its process as processedBy', async () => {
  assert.equal(await processedBy(), `${hostname()}:${process.pid}`);
});

test('a worker group given a name records that one', async () => {
  assert.equal(await processedBy('installer-a'), 'installer-a');
});
