import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { insertVms, outboxBacklog } from '@glassdome/db';
import { writeIntent } from '@glassdome/lab-run';
import { jobIntent } from '@glassdome/queue';
import { freePort, type RunningProcess, startProcess, waitFor } from '@glassdome/testkit';
import { relayedJob, rowCounts, startTestApi, type TestApi } from './harness';

let port: number;
let redis: RunningProcess;
let api: TestApi;

function startRedis(): Promise<RunningProcess> {
  const child = startProcess(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      name: 'redis-server',
    },
  );
  return child.waitForOutput('Ready to accept connections', 15_000).then(() => child);
}

before(async () => {
  port = await freePort();
  redis = await startRedis();
  api = await startTestApi('redisdown', { redisUrl: `redis://127.0.0.1:${port}` });
});
after(async () => {
  if (redis.child.exitCode === null) await api.close();
  await redis.stop();
});

test('an intent committed but never sent (the API died after its commit) is sent by the outbox relay', async () => {
  // What a request leaves behind when its process dies between the commit and the send: the row and
  // its intent, nothing in Redis.
  const [vmId] = await insertVms(api.db, [
    { name: 'orphaned-intent', os: 'kali', platformId: 'default', node: 'pve01', spec: {} },
  ]);
  await writeIntent(api.db, jobIntent('vm.deploy', { vmId: vmId! }, `vm-deploy.${vmId}`));
  await waitFor('the relay sends it', async () => Boolean(await api.producer.queues.vm.getJob(`vm-deploy.${vmId}`)), {
    timeoutMs: 15_000,
  });
  // The row goes once the relay's transaction commits, just after the send.
  await waitFor('the relayed row to be deleted', async () => (await outboxBacklog(api.db)).count === 0);
});

test('with Redis down, mutations get 503 + Retry-After and write nothing; reads still work', async () => {
  const created = await api.request('POST', '/api/v1/vms', { body: { name: 'before-outage', os: 'kali' } });
  assert.equal(created.status, 202);
  await redis.kill();
  await waitFor('producer notices the outage', () => api.producer.connection.status !== 'ready');

  const deploy = await api.request('POST', '/api/v1/vms', { body: { name: 'during-outage', os: 'kali' } });
  assert.equal(deploy.status, 503);
  assert.ok(Number(deploy.headers.get('retry-after')) > 0);
  assert.match(deploy.body.error.message, /Redis/);
  const destroy = await api.request('DELETE', `/api/v1/vms/${created.body.id}`);
  assert.equal(destroy.status, 503);
  assert.equal((await api.request('POST', '/api/v1/templates', { body: { os: 'kali' } })).status, 503);

  const vms = await api.request('GET', '/api/v1/vms');
  assert.equal(vms.status, 200, 'reads need only Postgres (the rate limit falls back to memory)');
  assert.deepEqual(
    vms.body.items.map((vm: { name: string; status: string }) => `${vm.name}:${vm.status}`),
    ['before-outage:queued', 'orphaned-intent:queued'],
  );
  const ready = await api.request('GET', '/readyz', { key: null });
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.body, { status: 'unavailable', redis: false, postgres: true });
  assert.equal((await rowCounts(api.db)).templates, 0);
});

test('once Redis is back the producer reconnects and deploys go through again', async () => {
  redis = await startRedis();
  await waitFor('producer reconnects', () => api.producer.connection.status === 'ready', { timeoutMs: 20_000 });
  const answer = await api.request('POST', '/api/v1/vms', { body: { name: 'after-outage', os: 'kali' } });
  assert.equal(answer.status, 202, answer.text);
  await relayedJob(api, answer.body.jobId);
});
