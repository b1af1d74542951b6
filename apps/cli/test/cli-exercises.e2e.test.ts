/**
 * The exercise commands as a user types them, against a real stack on the simulator: a two-copy
 * lab watched with copy labels, its roster (table and CSV), a reset of one copy and a named snapshot
 * reverted (`--wait`), testing mode on and off, a snapshot deleted, a TTL extension, and a warm pool
 * created, claimed, listed, scheduled, resized, drained and deleted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  createRedisPrefix,
  createTestDatabase,
  type RunningStack,
  startSimulator,
  startStack,
  type TestDatabase,
  type TestRedis,
  type TestSimulator,
  waitFor,
} from '@glassdome/testkit';
import { glassdome } from './drive';

let sim: TestSimulator;
let database: TestDatabase;
let redis: TestRedis;
let stack: RunningStack;
let home: string;
let traineeKeyFile: string;

before(async () => {
  sim = await startSimulator();
  database = await createTestDatabase('cli_ex');
  redis = createRedisPrefix('cli-ex');
  stack = await startStack({
    sim: sim.info,
    databaseUrl: database.url,
    redisUrl: redis.url,
    queuePrefix: redis.prefix,
    env: { ISOLATION_CHECK_SECONDS: '20', API_RATE_LIMIT: '100000' },
  });
  home = mkdtempSync(join(tmpdir(), 'gd-cli-ex-'));
  traineeKeyFile = join(home, 'trainee');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'student@class', '-f', traineeKeyFile]);
});

after(async () => {
  await stack?.stop();
  await sim?.stop();
  await database?.drop();
  await redis?.cleanup();
  if (home) rmSync(home, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GLASSDOME_CONFIG: join(home, 'absent-config.yaml'),
    GLASSDOME_URL: stack.apiUrl,
    GLASSDOME_API_KEY: stack.adminKey,
  };
}

async function cli(...args: string[]) {
  const run = await glassdome(args, env(), 180_000);
  return { ...run, all: `${run.stdout}${run.stderr}` };
}

let labId: string;

test('a two-copy lab deployed with --watch: every VM labelled with its copy', async () => {
  const spec = join(home, 'class.yaml');
  writeFileSync(
    spec,
    [
      'name: cli-class',
      'copies: 2',
      'networks:',
      '  - {name: lan, cidr: 10.40.0.0/24}',
      'vms:',
      '  - {name: box, os: ubuntu-22.04, networks: [lan], cloudInit: {user: trainee}}',
    ].join('\n'),
  );
  const run = await cli('lab', 'deploy', spec, '--watch');
  assert.equal(run.code, 0, run.all);
  assert.match(run.stdout, /c1 box/);
  assert.match(run.stdout, /c2 box/);
  labId = /lab cli-class ready \(([0-9a-f-]{36})\)/.exec(run.stdout)?.[1] ?? '';
  assert.ok(labId, run.stdout);
  await waitFor(
    'the initial snapshot',
    async () => {
      const list = await cli('lab', 'snapshot', 'list', labId, '--json');
      return (JSON.parse(list.stdout) as { name: string; status: string }[]).some(
        (s) => s.name === 'initial' && s.status === 'ready',
      );
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
});

test('roster as a table and as CSV, one row per copy', async () => {
  const table = await cli('lab', 'roster', labId);
  assert.equal(table.code, 0, table.all);
  assert.match(table.stdout, /^COPY\s+VM\s+STATUS\s+ADDRESSES\s+SSH/m);
  assert.match(table.stdout, /^1\s+box\s+ready\s+lan=10\.40\.0\.\d+\/24\s+ssh .*trainee@/m);
  assert.match(table.stdout, /^2\s+box\s+ready/m);
  const csv = await cli('lab', 'roster', labId, '--csv');
  const lines = csv.stdout.trim().split('\r\n');
  assert.equal(lines.length, 3, csv.stdout);
  assert.match(lines[0]!, /^copy,vm,status,os,addresses/);
});

test('reset of one copy and a named snapshot reverted, each followed to its end', async () => {
  const reset = await cli('lab', 'reset', labId, '--copy', '2', '--wait');
  assert.equal(reset.code, 0, reset.all);
  assert.match(reset.stdout, /reset done/);
  const taken = await cli('lab', 'snapshot', 'create', labId, 'checkpoint', '--wait');
  assert.equal(taken.code, 0, taken.all);
  const reverted = await cli('lab', 'snapshot', 'revert', labId, 'checkpoint', '--copy', '1', '--wait');
  assert.equal(reverted.code, 0, reverted.all);
  const missing = await cli('lab', 'snapshot', 'revert', labId, 'nosuch');
  assert.equal(missing.code, 2, 'a 404 is bad input');
  const operations = await cli('lab', 'operations', labId);
  assert.match(operations.stdout, /revert\s+checkpoint\s+done\s+1\/1/);
});

test('testing mode on and off, and a snapshot deleted, each followed to its end', async () => {
  const on = await cli('lab', 'testing', labId, '--egress', '203.0.113.5:443', '--for', '30m', '--wait');
  assert.equal(on.code, 0, on.all);
  assert.match(on.stdout, /testing mode done/);
  const state = await fetch(`${stack.apiUrl}/api/v1/labs/${labId}/testing`, {
    headers: { Authorization: `Bearer ${stack.adminKey}` },
  });
  const testing = ((await state.json()) as { testing: { egress: string[] } | null }).testing;
  assert.deepEqual(testing?.egress, ['203.0.113.5:443']);
  const off = await cli('lab', 'testing', labId, '--stop', '--wait');
  assert.equal(off.code, 0, off.all);
  assert.match(off.stdout, /end of testing mode done/);
  const deleted = await cli('lab', 'snapshot', 'delete', labId, 'checkpoint', '--wait');
  assert.equal(deleted.code, 0, deleted.all);
  const names = (JSON.parse((await cli('lab', 'snapshot', 'list', labId, '--json')).stdout) as { name: string }[]).map(
    (snapshot) => snapshot.name,
  );
  assert.ok(!names.includes('checkpoint') && names.includes('initial'), names.join(' '));
});

test('lab extend moves the expiry', async () => {
  const run = await cli('lab', 'extend', labId, '3h', '--json');
  assert.equal(run.code, 0, run.all);
  assert.ok(Date.parse(JSON.parse(run.stdout).expiresAt) > Date.now() + 2.9 * 3600_000);
});

test('a warm pool: created from a saved spec, claimed with a trainee key, listed', async () => {
  const saved = await fetch(`${stack.apiUrl}/api/v1/lab-specs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${stack.adminKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      spec: {
        name: 'cli-warm',
        networks: [{ name: 'lan', cidr: '10.41.0.0/24' }],
        vms: [{ name: 'box', os: 'ubuntu-22.04', networks: ['lan'], cloudInit: { user: 'trainee' } }],
      },
    }),
  });
  assert.equal(saved.status, 201);
  const created = await cli('pool', 'create', 'cli-pool', '--spec', 'cli-warm', '--size', '1');
  assert.equal(created.code, 0, created.all);
  await waitFor(
    'a ready copy',
    async () =>
      (JSON.parse((await cli('pool', 'show', 'cli-pool', '--json')).stdout) as { copies: { ready: number } }).copies
        .ready === 1,
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  const claim = await cli('pool', 'claim', 'cli-pool', '--name', 'ada', '--trainee-key', `${traineeKeyFile}.pub`);
  assert.equal(claim.code, 0, claim.all);
  assert.match(claim.stdout, /claimed lab ada \([0-9a-f-]{36}\) in \d+ ms/);
  const list = await cli('pool', 'list');
  assert.match(list.stdout, /^cli-pool\s+spec cli-warm\s+active/m);
  const roster = await cli('lab', 'roster', /\(([0-9a-f-]{36})\)/.exec(claim.stdout)![1]!);
  assert.match(roster.stdout, /student@class/, "the claimer's key is on the roster");
  assert.ok(readFileSync(`${traineeKeyFile}.pub`, 'utf8').includes('student@class'));
});

test('pool schedule, unschedule, resize, drain and delete', async () => {
  const show = async () =>
    JSON.parse((await cli('pool', 'show', 'cli-pool', '--json')).stdout) as {
      size: number;
      status: string;
      schedules: { id: string; kind: string; size: number }[];
    };
  const at = new Date(Date.now() + 3600_000).toISOString();
  const scheduled = await cli('pool', 'schedule', 'cli-pool', '--size', '2', '--at', at);
  assert.equal(scheduled.code, 0, scheduled.all);
  const id = /^schedule (\S+): next /m.exec(scheduled.stdout)?.[1];
  assert.ok(id, scheduled.stdout);
  assert.deepEqual(
    (await show()).schedules.map((s) => [s.id, s.kind, s.size]),
    [[id, 'once', 2]],
  );
  const unscheduled = await cli('pool', 'unschedule', 'cli-pool', id);
  assert.equal(unscheduled.code, 0, unscheduled.all);
  assert.deepEqual((await show()).schedules, []);

  const resized = await cli('pool', 'resize', 'cli-pool', '0');
  assert.equal(resized.code, 0, resized.all);
  assert.match(resized.stdout, /pool cli-pool: size 0/);
  const drained = await cli('pool', 'drain', 'cli-pool');
  assert.equal(drained.code, 0, drained.all);
  assert.equal((await show()).status, 'draining');
  const deleted = await cli('pool', 'delete', 'cli-pool');
  assert.equal(deleted.code, 0, deleted.all);
  assert.match(deleted.stdout, /pool cli-pool deleted/);
  assert.doesNotMatch((await cli('pool', 'list')).stdout, /cli-pool/);
  assert.equal((await cli('pool', 'show', 'cli-pool')).code, 2, 'a 404 is bad input');
});
