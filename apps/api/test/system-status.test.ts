import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appendEvent } from '@glassdome/db';
import { createLogger } from '@glassdome/logger';
import { createRedis, QUEUES, startWorkers } from '@glassdome/queue';
import { waitFor } from '@glassdome/testkit';
import { systemStatusResponse } from '../src/routes/system';
import { startTestApi, type TestApi } from './harness';

let api: TestApi;
before(async () => {
  api = await startTestApi('system');
});
after(() => api.close());

type Queue = { name: string; waiting: number; workers: number };
const queueNamed = (body: { queues: Queue[] }, name: string) => body.queues.find((queue) => queue.name === name)!;

test('GET /system/status: any role reads it; without workers or scans the stack is degraded', async () => {
  assert.equal((await api.request('GET', '/api/v1/system/status', { key: null })).status, 401);
  const answer = await api.request('GET', '/api/v1/system/status', { key: await api.keyWithRole('viewer') });
  assert.equal(answer.status, 200, answer.text);
  systemStatusResponse.parse(answer.body);
  assert.equal(answer.body.status, 'degraded');
  assert.deepEqual(answer.body.redis, { reachable: true });
  assert.deepEqual(answer.body.postgres, { reachable: true });
  assert.deepEqual(answer.body.queues.map((queue: Queue) => queue.name).sort(), Object.values(QUEUES).sort());
  assert.ok(answer.body.queues.every((queue: Queue) => queue.workers === 0));
  assert.equal(answer.body.overseer.lastScan, null);
  assert.equal((await api.request('GET', '/api/v1/system/status?verbose=1')).status, 400);
});

test('GET /system/status counts waiting jobs, connected workers and shows the newest overseer scan', async () => {
  await api.producer.queues.template.add('template-build', { templateId: 'counted-only' });
  await appendEvent(api.db, {
    kind: 'overseer.scan.completed',
    message: 'older scan',
    data: {
      platformId: 'default',
      replica: 'a',
      startedAt: 'x',
      finishedAt: '2020-01-01T00:00:00.000Z',
      vms: 1,
      findings: 0,
    },
  });
  await appendEvent(api.db, {
    kind: 'overseer.scan.completed',
    message: 'newest scan',
    data: {
      platformId: 'default',
      replica: 'b',
      startedAt: 'y',
      finishedAt: '2020-01-02T00:00:00.000Z',
      vms: 7,
      findings: 2,
      nodes: [{ node: 'pve01', online: true }],
    },
  });
  const workers = startWorkers({
    connect: () => createRedis(api.redisUrl, 'worker'),
    prefix: api.prefix,
    queues: ['permission'],
    handlers: { 'permission.grant': async () => undefined },
    logger: createLogger({ name: 'system-test', level: 'silent', format: 'json' }),
    shutdownMs: 1_000,
  });
  try {
    const body = await waitFor('workers counted', async () => {
      const answer = (await api.request('GET', '/api/v1/system/status')).body;
      return queueNamed(answer, 'permission').workers > 0 && answer;
    });
    assert.equal(queueNamed(body, 'template').waiting, 1);
    assert.equal(queueNamed(body, 'template').workers, 0);
    assert.equal(body.status, 'degraded', 'the other queues still have no worker');
    assert.equal(body.overseer.lastScan.replica, 'b');
    assert.equal(body.overseer.lastScan.vms, 7);
    assert.equal(body.overseer.lastScan.finishedAt, '2020-01-02T00:00:00.000Z');
    assert.deepEqual(body.overseer.lastScan.nodes, [{ node: 'pve01', online: true }]);
  } finally {
    await workers.close();
  }
});

test('the OpenAPI document describes the status answer', async () => {
  const doc = (await api.request('GET', '/api/v1/openapi.json')).body;
  const ok = doc.paths['/system/status'].get.responses['200'];
  const schema = ok.content['application/json'].schema;
  assert.deepEqual(Object.keys(schema.properties).sort(), ['overseer', 'postgres', 'queues', 'redis', 'status']);
});
