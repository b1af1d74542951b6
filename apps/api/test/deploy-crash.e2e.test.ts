/**
 * Group commit under a crash: the API process is killed (SIGKILL) in the middle of a burst of
 * deploys, between commits, sends and answers, then started again on the same Postgres and Redis.
 * Every deploy answered 202 is there, every committed VM gets exactly one deploy job (the outbox
 * relay sends what the dead process committed but never sent), and no job names a VM that was not
 * committed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db, listSteps } from '@glassdome/db';
import { jobsOfQueue, Producer, VM_DEPLOY_STEPS } from '@glassdome/queue';
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
import { ADMIN_KEY } from './harness';

const CLIENTS = 16;
const MAIN = new URL('../src/main.ts', import.meta.url).pathname;

let database: TestDatabase;
let redis: TestRedis;
let db: Db;
before(async () => {
  database = await createTestDatabase('api_deploy_crash');
  redis = createRedisPrefix('api-deploy-crash');
  db = createDb(database.url);
});
after(async () => {
  await db.destroy();
  await database.drop();
  await redis.cleanup();
});

async function startApi(port: number): Promise<RunningProcess> {
  const api = startProcess(process.execPath, ['--import', 'tsx', MAIN], {
    name: 'api',
    env: {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: redis.prefix,
      GLASSDOME_ADMIN_KEY: ADMIN_KEY,
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      API_RATE_LIMIT: '1000000',
      API_RATE_LIMIT_PER_ADDRESS: '1000000',
      LOG_LEVEL: 'warn',
    },
  });
  await api.waitForOutput('api listening', 120_000);
  return api;
}

test('a burst of deploys survives kill -9 of the API: nothing answered is lost, nothing is queued twice or without its VM', async (t) => {
  const port = await freePort();
  const api = await startApi(port);
  const accepted: string[] = [];
  let sent = 0;
  let stop = false;
  const client = async (index: number) => {
    for (let n = 0; !stop; n++) {
      sent++;
      try {
        const response = await fetch(`http://127.0.0.1:${port}/api/v1/vms`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: `crash-${index}-${n}`, os: 'debian-12' }),
        });
        const body = (await response.json()) as { id?: string };
        if (response.status === 202 && body.id) accepted.push(body.id);
        else assert.fail(`a deploy was refused: ${response.status} ${JSON.stringify(body)}`);
      } catch (error) {
        // The process died under this request: its outcome is unknown to the client.
        if (error instanceof assert.AssertionError) throw error;
        return;
      }
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, index) => client(index));
  await waitFor('a few hundred deploys answered', () => accepted.length >= 300, { timeoutMs: 120_000 });
  await api.kill();
  stop = true;
  await Promise.all(clients);
  assert.ok(sent > accepted.length, 'some requests were cut by the crash');

  const again = await startApi(port);
  const producer = await Producer.open(redis.url, redis.prefix);
  try {
    // The restarted API's relay sends whatever the dead one committed but never sent.
    await waitFor(
      'the outbox drained',
      async () =>
        Number(
          (
            await db
              .selectFrom('outbox')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        ) === 0,
      { timeoutMs: 30_000 },
    );
    const vms = await db.selectFrom('vms').select(['id', 'status']).execute();
    const ids = new Set(vms.map((vm) => vm.id));
    t.diagnostic(`${sent} sent, ${accepted.length} answered 202, ${vms.length} committed`);
    for (const id of accepted) assert.ok(ids.has(id), `the answered deploy ${id} is recorded`);
    assert.ok(vms.every((vm) => vm.status === 'queued'));
    for (const vm of vms) {
      const steps = await listSteps(db, { vmId: vm.id });
      assert.deepEqual(
        steps.map((step) => step.name),
        [...VM_DEPLOY_STEPS],
        'every VM has its planned steps',
      );
    }
    const jobs = await producer.queues.vm.getJobs([
      'waiting',
      'active',
      'delayed',
      'prioritized',
      'completed',
      'failed',
    ]);
    assert.ok(jobs.every((job) => jobsOfQueue('vm').includes(job.name as never)));
    const deployJobs = jobs.filter((job) => job.name === 'vm.deploy');
    assert.equal(deployJobs.length, vms.length, 'one deploy job per committed VM');
    assert.deepEqual(
      deployJobs.map((job) => job.id).sort(),
      vms.map((vm) => `vm-deploy.${vm.id}`).sort(),
      'each names a committed VM, none twice',
    );
    const usage = await db
      .selectFrom('project_usage')
      .select('vms')
      .where('project', '=', 'default')
      .executeTakeFirstOrThrow();
    assert.equal(usage.vms, vms.length, 'the quota counters saw every committed VM once');
  } finally {
    await producer.close();
    await again.stop();
  }
});
