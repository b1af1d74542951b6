import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { appendEvent, finishStep, insertVms, planSteps, planVmSteps, startStep } from '@glassdome/db';
import { createLogger } from '@glassdome/logger';
import { QUEUES } from '@glassdome/queue';
import { waitFor } from '@glassdome/testkit';
import { pruneOnce } from '../src/retention';
import { ADMIN_KEY, allJobs, send, startTestApi, type TestApi } from './harness';

const METRICS_KEY = 'metrics-0f3b9c7e2a5d48b1a6c2e9f0d7b3a814';
const logLines: string[] = [];
let api: TestApi;
before(async () => {
  const logger = createLogger({
    name: 'api-test',
    level: 'info',
    destination: new Writable({
      write(chunk, _encoding, callback) {
        logLines.push(...chunk.toString().trim().split('\n'));
        callback();
      },
    }),
  });
  api = await startTestApi('bounds', {
    deps: {
      logger,
      metricsKey: METRICS_KEY,
      addressRateLimit: 400,
      labEvents: { maxPerKey: 2, maxPerProcess: 50, lifetimeMs: 1_500, keepAliveMs: 200 },
    },
  });
});
after(() => api.close());

test('Bull Board refuses add, retry, promote, clean and every other change for every role; nothing is enqueued', async () => {
  const keys = {
    admin: ADMIN_KEY,
    operator: await api.keyWithRole('operator'),
    viewer: await api.keyWithRole('viewer'),
    none: null,
  } as const;
  const expected = { admin: 405, operator: 403, viewer: 403, none: 401 };
  const grant = {
    name: 'permission.grant',
    data: { principal: 'x@pve', path: '/', privileges: ['Permissions.Modify'] },
  };
  for (const queue of Object.values(QUEUES)) {
    for (const [method, path, body] of [
      ['POST', `/admin/queues/api/queues/${queue}/add`, grant],
      ['PUT', `/admin/queues/api/queues/${queue}/retry/failed`, {}],
      ['PUT', `/admin/queues/api/queues/${queue}/promote`, {}],
      ['PUT', `/admin/queues/api/queues/${queue}/clean/completed`, {}],
      ['PUT', `/admin/queues/api/queues/${queue}/obliterate`, {}],
      ['PATCH', `/admin/queues/api/queues/${queue}/some-job/update-data`, {}],
    ] as const) {
      for (const [role, key] of Object.entries(keys)) {
        const answer = await api.request(method, path, { key, body });
        assert.equal(answer.status, expected[role as keyof typeof expected], `${role} ${method} ${path}`);
      }
    }
  }
  assert.equal((await allJobs(api.producer)).length, 0);
  assert.equal((await api.request('GET', '/admin/queues/api/queues')).status, 200, 'an admin still reads the board');
  assert.equal((await api.request('GET', '/admin/queues/api/queues/vm/x/logs')).status, 404, 'job logs are not shown');
});

test('1 MiB of nested [ (YAML or JSON) is refused before parsing while /healthz keeps answering', async () => {
  const deep = '['.repeat(1024 * 1024 - 64);
  // A reference: the same text handed to the YAML parser in a process of its own.
  const reference = spawn(process.execPath, ['-e', `require('yaml').parse('['.repeat(${deep.length}))`], {
    cwd: new URL('../', import.meta.url).pathname,
    stdio: 'ignore',
  });
  const referenceDone = new Promise<number>((resolve) => reference.on('exit', () => resolve(performance.now())));
  const order: string[] = [];
  const refused = api.request('POST', '/api/v1/labs', { raw: deep, contentType: 'application/yaml' }).then((answer) => {
    order.push('yaml refused');
    return answer;
  });
  const health: Promise<number>[] = [];
  for (let i = 0; i < 5; i++)
    health.push(send(api.url, 'GET', '/healthz', { key: null }).then((answer) => answer.status));
  const answer = await refused;
  void referenceDone.then(() => order.push('parser finished'));
  assert.equal(answer.status, 400);
  assert.match(answer.body.error.details[0].message, /nests deeper than 64 levels/);
  assert.deepEqual(await Promise.all(health), [200, 200, 200, 200, 200]);
  await referenceDone;
  assert.deepEqual(order, ['yaml refused', 'parser finished'], 'refused long before a parser would have finished');

  const json = await api.request('POST', '/api/v1/vms', { raw: deep, contentType: 'application/json' });
  assert.equal(json.status, 400);
  assert.match(json.body.error.message, /nests deeper/);
  assert.equal((await api.db.selectFrom('labs').select('id').execute()).length, 0);
});

test('pg_dump after POST /keys with an Idempotency-Key holds no key; a replay answers without it', async () => {
  const headers = { 'idempotency-key': 'make-key-once' };
  const first = await api.request('POST', '/api/v1/keys', {
    body: { name: 'ci', role: 'operator', project: 'ci' },
    headers,
  });
  assert.equal(first.status, 201);
  const key = first.body.key as string;
  const replay = await api.request('POST', '/api/v1/keys', {
    body: { name: 'ci', role: 'operator', project: 'ci' },
    headers,
  });
  assert.equal(replay.status, 201);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.equal(replay.body.id, first.body.id);
  assert.equal(replay.body.key, undefined);
  assert.deepEqual(replay.body.withheld, ['key']);
  const dump = execFileSync('pg_dump', ['--data-only', api.databaseUrl], { maxBuffer: 64 * 1024 * 1024 }).toString();
  assert.ok(dump.includes('make-key-once'), 'the idempotent answer is in the dump');
  assert.ok(!dump.includes(key), 'the key is not');
  assert.ok(!dump.includes(key.slice(12)), 'nor any long part of it');
});

test('rate limits: per address before the key is looked up, per key after', async () => {
  // 400 per address per window: made-up keys run out of budget and are then refused without a
  // lookup. 2×400+1 requests touch at most two fixed windows, so one of them must be refused.
  const statuses: number[] = [];
  let refused: Awaited<ReturnType<typeof api.request>> | undefined;
  for (let i = 0; i < 801 && !refused; i++) {
    const answer = await api.request('GET', '/api/v1/labs', { key: `gd_made-up-${i}` });
    statuses.push(answer.status);
    if (answer.status === 429) refused = answer;
  }
  assert.ok(statuses.includes(401), 'unknown keys were refused as such while the budget lasted');
  assert.ok(refused, 'the address ran out of budget');
  assert.match(refused.body.error.message, /this address/);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  await api.producer.connection.del(...(await api.producer.connection.keys(`${api.prefix}:ratelimit:addr:*`)));
  assert.equal((await api.request('GET', '/api/v1/labs')).status, 200);
});

test('/metrics needs METRICS_KEY and reads step totals kept as steps finish', async () => {
  assert.equal((await send(api.url, 'GET', '/metrics', { key: null })).status, 401);
  assert.equal((await send(api.url, 'GET', '/metrics', { key: 'wrong' })).status, 401);
  const [vmId] = await insertVms(api.db, [
    { name: 'metered', os: 'kali', platformId: 'default', node: 'pve01', spec: {} },
  ]);
  await planSteps(api.db, { vmId: vmId! }, ['clone']);
  await startStep(api.db, { vmId: vmId! }, 'clone');
  await finishStep(api.db, { vmId: vmId! }, 'clone', { status: 'done' });
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const metrics = await send(api.url, 'GET', '/metrics', { key: METRICS_KEY });
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, /glassdome_step_duration_seconds_count\{step="clone",status="done"\} 1/);
});

test('event streams: at most maxPerKey per key, and each ends at its lifetime with a resumable end event', async () => {
  const lab = await api.request('POST', '/api/v1/labs', { body: { template: 'web-pentest-101', name: 'streams' } });
  const key = await api.keyWithRole('viewer');
  const open = async () =>
    fetch(`${api.url}/api/v1/labs/${lab.body.id}/events`, { headers: { authorization: `Bearer ${key}` } });
  const first = await open();
  const second = await open();
  const third = await open();
  assert.deepEqual([first.status, second.status, third.status], [200, 200, 429]);
  assert.ok(Number(third.headers.get('retry-after')) > 0);
  await third.text();
  const text = await first.text();
  assert.match(text, /event: end\n/, 'the stream ended by itself');
  await second.text();
  assert.equal((await open()).status, 200, 'slots are given back');
});

test('every mutation is logged with its principal (key id and project); last_used_at is recorded', async () => {
  const key = await api.keyWithRole('operator', 'audited');
  const created = await api.request('POST', '/api/v1/vms', { key, body: { name: 'audited-vm', os: 'kali' } });
  assert.equal(created.status, 202);
  const row = await api.db
    .selectFrom('api_keys')
    .select(['id', 'last_used_at'])
    .where('project', '=', 'audited')
    .executeTakeFirstOrThrow();
  assert.ok(row.last_used_at, 'last_used_at set');
  type Entry = { msg?: string; principal?: { keyId?: string; project?: string }; vmId?: string; jobId?: string };
  const audited = () =>
    logLines
      .map((line) => JSON.parse(line) as Entry)
      .filter((entry) => entry.msg === 'mutation' && entry.principal?.keyId === row.id);
  await waitFor('the mutation log line', () => audited().some((entry) => entry.principal?.project === 'audited'));
  // The deploy's own facts are on its audit line, not on a second line of their own.
  const { id } = JSON.parse(created.text) as { id: string };
  assert.deepEqual(
    audited().map((entry) => [entry.vmId, entry.jobId]),
    [[id, `vm-deploy.${id}`]],
  );
  assert.ok(!logLines.some((line) => line.includes(id) && !line.includes('"msg":"mutation"')), 'one line per deploy');
  assert.ok(!logLines.some((line) => line.includes(key)), 'the key itself is never logged');
});

test("a viewer never sees a provisioning command's text or output; the creator's full log has both", async () => {
  const operator = await api.keyWithRole('operator', 'secrets');
  const viewer = await api.keyWithRole('viewer', 'secrets');
  const otherOperator = await api.keyWithRole('operator', 'secrets');
  const command = "echo 'hunter2-pw' | chpasswd";
  const created = await api.request('POST', '/api/v1/vms', {
    key: operator,
    body: { name: 'pw-box', os: 'debian-12', provision: [{ run: command }] },
  });
  assert.equal(created.status, 202, created.text);
  const vmId = created.body.id as string;
  // What an older installer (or any path quoting the command) may have left in public rows.
  await api.db
    .updateTable('vms')
    .set({ error: `post-configure failed: ${command} exited 1: chpasswd: hunter2-pw rejected` })
    .where('id', '=', vmId)
    .execute();
  await planVmSteps(api.db, vmId); // the installer writes the plan's step rows when it takes the job
  await api.db
    .updateTable('steps')
    .set({ status: 'failed', error: `${command} exited 1` })
    .where('vm_id', '=', vmId)
    .where('name', '=', 'post-configure')
    .execute();
  await appendEvent(api.db, { vmId, kind: 'vm.guest.failed', message: `${command} exited 1: bad`, private: true });

  for (const key of [viewer, otherOperator]) {
    const seen = await api.request('GET', `/api/v1/vms/${vmId}`, { key });
    assert.equal(seen.status, 200);
    assert.ok(!seen.text.includes(command), 'no command text');
    assert.ok(!seen.text.includes('hunter2'), 'no secret');
    assert.equal((await api.request('GET', `/api/v1/vms/${vmId}/logs`, { key })).status, 403);
  }
  const own = await api.request('GET', `/api/v1/vms/${vmId}`, { key: operator });
  assert.ok(own.text.includes(command), 'the creator sees its own command');
  const logs = await api.request('GET', `/api/v1/vms/${vmId}/logs`, { key: operator });
  assert.equal(logs.status, 200);
  assert.ok(
    logs.body.events.some(
      (event: { private: boolean; message: string }) => event.private && event.message.includes(command),
    ),
  );
});

test('retention prunes old events and idempotent answers', async () => {
  await appendEvent(api.db, { kind: 'old.one', message: 'from long ago' });
  await api.db
    .updateTable('events')
    .set({ at: new Date('2001-01-01') })
    .where('kind', '=', 'old.one')
    .execute();
  await api.db
    .updateTable('idempotency_keys')
    .set({ created_at: new Date('2001-01-01') })
    .execute();
  const result = await pruneOnce(api.db, api.producer, {
    eventDays: 30,
    idempotencyHours: 24,
    completedJobDays: 7,
    failedJobDays: 30,
    intervalMs: 60_000,
  });
  assert.ok(result && result.events >= 1 && result.idempotencyKeys >= 1, JSON.stringify(result));
  assert.equal((await api.db.selectFrom('events').select('id').where('kind', '=', 'old.one').execute()).length, 0);
  assert.equal((await api.db.selectFrom('idempotency_keys').select('key').execute()).length, 0);
});

test('POST /permissions refuses allocation on / and anything outside the allowlist; nothing is enqueued for it', async () => {
  const before = (await allJobs(api.producer)).filter((job) => job.name === 'permission.grant').length;
  for (const [path, privileges] of [
    ['/', ['VM.Allocate']],
    ['/', ['Datastore.Allocate']],
    ['/', ['VM.Audit', 'VM.PowerMgmt']],
    ['/vms/100', ['Permissions.Modify']],
    ['/vms/100', ['Sys.Console']],
  ] as const) {
    const answer = await api.request('POST', '/api/v1/permissions', {
      body: { principal: 'trainee@pve', path, privileges },
    });
    assert.equal(answer.status, 400, `${privileges.join(',')} on ${path}: ${answer.text}`);
  }
  assert.equal((await allJobs(api.producer)).filter((job) => job.name === 'permission.grant').length, before);
  const audit = await api.request('POST', '/api/v1/permissions', {
    body: { principal: 'trainee@pve', path: '/', privileges: ['Sys.Audit'] },
  });
  assert.equal(audit.status, 202, audit.text);
});
