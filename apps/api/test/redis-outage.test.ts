import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort, type RunningProcess, startProcess, waitFor } from '@glassdome/testkit';
import { allJobs, rowCounts, startTestApi, type TestApi } from './harness';

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

test('when Redis refuses the job after the commit, the rows are undone and the answer is 503', async () => {
  const admin = api.producer.connection;
  try {
    // Writes now fail with OOM while the connection stays up: the enqueue fails after the commit.
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    const answer = await api.request('POST', '/api/v1/vms', { body: { name: 'refused', os: 'kali' } });
    assert.equal(answer.status, 503, answer.text);
    assert.equal(answer.headers.get('retry-after'), '5');
    const lab = await api.request('POST', '/api/v1/labs', { body: { template: 'web-pentest-101' } });
    assert.equal(lab.status, 503);
    assert.deepEqual(await rowCounts(api.db), { vms: 0, labs: 0, templates: 0, steps: 0 });
  } finally {
    await admin.config('SET', 'maxmemory', '0');
  }
  assert.equal((await allJobs(api.producer)).length, 0);
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
    ['before-outage:queued'],
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
  assert.ok(await api.producer.queues.vm.getJob(answer.body.jobId));
});
