import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Producer } from '@glassdome/queue';
import {
  createRedisPrefix,
  createTestDatabase,
  freePort,
  type RunningProcess,
  startProcess,
  type TestDatabase,
  type TestRedis,
  waitFor,
} from '@glassdome/testkit';
import { ADMIN_KEY, send } from './harness';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;

function startApi(env: Record<string, string>): RunningProcess {
  return startProcess(process.execPath, ['--import', 'tsx', MAIN], {
    env: { GLASSDOME_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'info', API_HOST: '127.0.0.1', ...env },
    name: 'api',
  });
}

let database: TestDatabase;
let redis: TestRedis;
before(async () => {
  database = await createTestDatabase('api_e2e');
  redis = createRedisPrefix('api-e2e');
});
after(async () => {
  await database.drop();
  await redis.cleanup();
});

test('the api refuses to start, in one clear line, when Redis or Postgres is down or config is bad', async () => {
  const closed = await freePort();
  // Started side by side: each pays tsx's start-up once.
  const noRedis = startApi({ DATABASE_URL: database.url, REDIS_URL: `redis://127.0.0.1:${closed}`, API_PORT: '0' });
  const noPostgres = startApi({
    DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/x`,
    REDIS_URL: redis.url,
    API_PORT: '0',
  });
  const badConfig = startApi({ DATABASE_URL: database.url, API_PORT: 'eighty', API_RATE_LIMIT: '-1' });
  assert.deepEqual(await Promise.all([noRedis.exited, noPostgres.exited, badConfig.exited]), [1, 1, 78]);
  assert.match(noRedis.output(), new RegExp(`api: Redis at 127\\.0\\.0\\.1:${closed} is not available .*REDIS_URL`));
  assert.match(
    noPostgres.output(),
    new RegExp(`api: Postgres at 127\\.0\\.0\\.1:${closed}/x is not available .*DATABASE_URL`),
  );
  assert.match(badConfig.output(), /API_PORT .*API_RATE_LIMIT|API_RATE_LIMIT .*API_PORT/);
});

test('a real api process serves health, docs, metrics, the board, and deploys with ids-only jobs', async () => {
  const port = await freePort();
  const api = startApi({
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: redis.prefix,
    API_PORT: String(port),
  });
  const producer = await Producer.open(redis.url, redis.prefix);
  try {
    await api.waitForOutput(`api listening on http://127.0.0.1:${port}`, 60_000);
    const url = `http://127.0.0.1:${port}`;
    assert.deepEqual((await send(url, 'GET', '/healthz', { key: null })).body, { status: 'ok' });
    assert.equal((await send(url, 'GET', '/readyz', { key: null })).status, 200);
    const openapi = await send(url, 'GET', '/api/v1/openapi.json', { key: null });
    assert.ok(Object.keys(openapi.body.paths).length >= 15);
    assert.equal((await send(url, 'GET', '/admin/queues', { key: null })).status, 401);
    assert.equal((await send(url, 'GET', '/admin/queues')).status, 200);

    const deploy = await send(url, 'POST', '/api/v1/vms', {
      body: { name: 'e2e-web', os: 'ubuntu-24.04', cloudInit: { user: 'ops', sshKeys: [], packages: [], runcmd: [] } },
      headers: { 'x-request-id': 'e2e-req-1' },
    });
    assert.equal(deploy.status, 202, deploy.text);
    // Answered at the commit: the relay puts the job in BullMQ a moment later.
    const job = await waitFor('the relay to send the job', () => producer.queues.vm.getJob(deploy.body.jobId), {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    assert.deepEqual(job.data, { vmId: deploy.body.id, requestId: 'e2e-req-1' });
    assert.equal((await send(url, 'GET', `/api/v1/vms/${deploy.body.id}`)).body.name, 'e2e-web');

    const metrics = await send(url, 'GET', '/metrics', { key: null });
    assert.match(metrics.text, /glassdome_http_requests_total\{method="POST",route="\/api\/v1\/vms",status="202"\} 1/);
    assert.match(metrics.text, /glassdome_queue_jobs\{queue="vm",state="waiting"\} 1/);

    assert.equal(await api.stop(), 0, 'SIGTERM closes the server, producer and db and exits 0');
    assert.ok(!api.output().includes(ADMIN_KEY), 'the admin key never appears in the logs');
    assert.match(api.output(), /"requestId":"e2e-req-1"/);
  } finally {
    await api.kill();
    await producer.close();
  }
});
