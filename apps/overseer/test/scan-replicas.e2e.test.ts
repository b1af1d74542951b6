/**
 * Two overseer processes against one platform: the job scheduler hands each scan period to one of
 * them, and the scan log (one `overseer.scan.completed` event per scan) shows every scheduled scan
 * once, never two at the same time.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db } from '@glassdome/db';
import {
  createRedisPrefix,
  createTestDatabase,
  type RunningProcess,
  startProcess,
  startSimulator,
  type TestDatabase,
  type TestRedis,
  type TestSimulator,
  waitFor,
} from '@glassdome/testkit';
import { SCAN_EVENT, type ScanSummary } from '../src/scan';

const root = new URL('../../../', import.meta.url).pathname;
let sim: TestSimulator;
let database: TestDatabase;
let redis: TestRedis;
let db: Db;
const replicas: RunningProcess[] = [];

before(async () => {
  sim = await startSimulator();
  database = await createTestDatabase('overseer-replicas');
  redis = createRedisPrefix('overseer-replicas');
  db = createDb(database.url);
});

after(async () => {
  await Promise.all(replicas.map((replica) => replica.stop(10_000)));
  await db?.destroy();
  await database?.drop();
  await redis?.cleanup();
  await sim?.stop();
});

function startReplica(name: string, extra: Record<string, string> = {}): RunningProcess {
  return startProcess(process.execPath, ['--import', 'tsx', 'apps/overseer/src/main.ts'], {
    cwd: root,
    name,
    env: {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: redis.prefix,
      PROXMOX_URL: sim.info.apiUrl,
      PROXMOX_TOKEN_ID: sim.info.tokenId,
      PROXMOX_TOKEN_SECRET: sim.info.tokenSecret,
      PROXMOX_NODE: sim.info.node,
      OVERSEER_SCAN_SECONDS: '0.25',
      OVERSEER_SSH_PROBE: '0',
      OVERSEER_REPLICA: name,
      LOG_LEVEL: 'info',
      ...extra,
    },
  });
}

async function scanLog(): Promise<ScanSummary[]> {
  const rows = await db.selectFrom('events').select('data').where('kind', '=', SCAN_EVENT).orderBy('id').execute();
  return rows.map((row) => row.data as unknown as ScanSummary);
}

test('two replicas run each scheduled scan once, one at a time, and serve metrics', async () => {
  replicas.push(startReplica('replica-a', { OVERSEER_METRICS_PORT: '0' }), startReplica('replica-b'));
  await Promise.all(replicas.map((replica) => replica.waitForOutput('overseer ready')));
  await waitFor('ten scans', async () => (await scanLog()).length >= 10, { timeoutMs: 60_000 });

  const ready = replicas[0]!
    .output()
    .split('\n')
    .find((line) => line.startsWith('{') && line.includes('overseer ready'));
  const metricsPort = (JSON.parse(ready!) as { metricsPort: number }).metricsPort;
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();

  const codes = await Promise.all(replicas.map((replica) => replica.stop(10_000)));
  assert.deepEqual(codes, [0, 0], 'both replicas shut down cleanly');

  const scans = await scanLog();
  const jobIds = scans.map((scan) => scan.jobId);
  assert.ok(
    jobIds.every((id) => id?.startsWith('repeat:')),
    'every scan came from the scheduler',
  );
  assert.equal(new Set(jobIds).size, scans.length, 'no scheduled scan ran twice');
  const byStart = [...scans].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  for (let i = 1; i < byStart.length; i++) {
    assert.ok(byStart[i]!.startedAt >= byStart[i - 1]!.finishedAt, 'scans never overlap');
  }
  // One read of the cluster's resources and one of Glassdome's SDN VNets, however many VMs there are.
  assert.ok(scans.every((scan) => scan.apiCalls === 2 && scan.platformId === 'default'));
  assert.deepEqual(scans.at(-1)?.nodes, [{ node: sim.info.node, online: true }]);
  assert.match(metrics, /glassdome_overseer_scan_api_calls\{platform="default"\} 2/);
});
