import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { insertOutboxIntent, type JsonValue, listSteps } from '@glassdome/db';
import { jobIntent, VM_DEPLOY_STEPS } from '@glassdome/queue';
import { allJobs, allRelayed, relayedJob, rowCounts, startTestApi, type TestApi, VALID_VM } from './harness';

let api: TestApi;
before(async () => {
  api = await startTestApi('vmdeploy');
});
after(() => api.close());

test('POST /vms records the VM and its steps, then enqueues vm.deploy carrying ids only', async () => {
  const body = {
    ...VALID_VM,
    cpus: 2,
    cloudInit: { user: 'trainee', sshKeys: [], packages: ['nginx'], runcmd: [] },
    provision: [{ file: { path: '/etc/app.conf', content: 'password=hunter2-not-for-redis' } }],
  };
  const answer = await api.request('POST', '/api/v1/vms', { body, headers: { 'x-request-id': 'req-vm-1' } });
  assert.equal(answer.status, 202, answer.text);
  const { id, status, jobId } = answer.body;
  assert.equal(status, 'queued');
  assert.equal(jobId, `vm-deploy.${id}`);
  assert.equal(answer.headers.get('location'), `/api/v1/vms/${id}`);
  assert.equal(answer.headers.get('x-request-id'), 'req-vm-1');

  // Answered at the commit: the relay puts the job in BullMQ a moment later.
  const job = await relayedJob(api, jobId);
  assert.equal(job.name, 'vm.deploy');
  assert.deepEqual(job.data, { vmId: id, requestId: 'req-vm-1' });
  assert.ok(!JSON.stringify(job.data).includes('hunter2'));

  const vm = await api.request('GET', `/api/v1/vms/${id}`);
  assert.equal(vm.status, 200);
  assert.equal(vm.body.status, 'queued');
  assert.equal(vm.body.cpus, 2);
  assert.equal(vm.body.node, 'pve01');
  assert.deepEqual(
    vm.body.steps.map((step: { name: string; status: string }) => `${step.name}:${step.status}`),
    [
      'reserve-vmid',
      'clone',
      'configure',
      'firewall',
      'start',
      'wait-agent',
      'wait-ssh',
      'post-configure',
      'verify',
    ].map((name) => `${name}:pending`),
  );
  assert.ok(!vm.text.includes('hunter2'), 'provisioning content is not echoed');

  const row = await api.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  assert.equal(row.request_id, 'req-vm-1');
  assert.equal(row.lab_id, null);

  const lookup = await api.request('GET', `/api/v1/jobs/${jobId}`);
  assert.equal(lookup.status, 200);
  assert.equal(lookup.body.queue, 'vm');
  assert.equal(lookup.body.state, 'waiting');
  assert.deepEqual(lookup.body.data, { vmId: id, requestId: 'req-vm-1' });
  assert.equal((await api.request('GET', '/api/v1/jobs/vm-deploy.nope')).status, 404);
});

test('a second active VM with the same name is 409; nothing more is written or enqueued', async () => {
  await allRelayed(api.db);
  const before = await rowCounts(api.db);
  const jobs = (await allJobs(api.producer)).length;
  const answer = await api.request('POST', '/api/v1/vms', { body: VALID_VM });
  assert.equal(answer.status, 409);
  assert.equal(answer.body.error.code, 'conflict');
  assert.deepEqual(await rowCounts(api.db), before);
  // An intent the refusal had written would be relayed by now.
  await allRelayed(api.db);
  assert.equal((await allJobs(api.producer)).length, jobs);
});

test('the original alias deploys with the OS from the path', async () => {
  const answer = await api.request('POST', '/api/agents/kali/create', { body: { name: 'attacker-1' } });
  assert.equal(answer.status, 202, answer.text);
  const vm = await api.request('GET', `/api/v1/vms/${answer.body.id}`);
  assert.equal(vm.body.os, 'kali');
  assert.equal(
    (await api.request('POST', '/api/agents/kali/create', { body: { name: 'x', os: 'debian-12' } })).status,
    400,
  );
});

test('GET /vms filters by status and pages', async () => {
  const all = await api.request('GET', '/api/v1/vms?limit=1');
  assert.equal(all.body.items.length, 1);
  const none = await api.request('GET', '/api/v1/vms?status=ready');
  assert.equal(none.body.items.length, 0);
  const queued = await api.request('GET', '/api/v1/vms?status=queued&offset=0&limit=10');
  assert.equal(queued.body.items.length, 2);
});

test('DELETE /vms/:id marks it destroying and enqueues a fresh vm.destroy per request; 404 for an unknown VM', async () => {
  const created = await api.request('POST', '/api/v1/vms', { body: { name: 'short-lived', os: 'debian-12' } });
  const { id } = created.body;
  const jobIds: string[] = [];
  for (let i = 0; i < 2; i++) {
    const answer = await api.request('DELETE', `/api/v1/vms/${id}`);
    assert.equal(answer.status, 202);
    assert.equal(answer.body.status, 'destroying');
    assert.match(answer.body.jobId, new RegExp(`^vm-destroy\\.${id}\\.\\d+$`));
    jobIds.push(answer.body.jobId);
  }
  const destroyJobs = (await allJobs(api.producer)).filter((job) => job.name === 'vm.destroy');
  assert.deepEqual(destroyJobs.map((job) => job.id).sort(), [...jobIds].sort());
  assert.deepEqual(Object.keys(destroyJobs[0]!.data).sort(), ['requestId', 'vmId']);
  assert.equal((await api.request('GET', `/api/v1/vms/${id}`)).body.status, 'destroying');
  assert.equal((await api.request('DELETE', '/api/v1/vms/00000000-0000-4000-8000-000000000000')).status, 404);
});

test('POST /templates records a queued template and enqueues template.create; a second is 409', async () => {
  const answer = await api.request('POST', '/api/v1/templates', { body: { os: 'ubuntu-24.04' } });
  assert.equal(answer.status, 202, answer.text);
  const job = await api.producer.queues.template.getJob(answer.body.jobId);
  assert.deepEqual(Object.keys(job!.data).sort(), ['requestId', 'templateId']);
  const row = await api.db.selectFrom('templates').selectAll().executeTakeFirstOrThrow();
  assert.equal(row.status, 'queued');
  assert.equal(row.node, 'pve01');
  assert.equal(row.vmid, 9001);
  const again = await api.request('POST', '/api/v1/templates', { body: { os: 'ubuntu-24.04' } });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.details.id, answer.body.id);
});

test('POST /permissions (admin) enqueues exactly the named bundle of privileges', async () => {
  const answer = await api.request('POST', '/api/v1/permissions', {
    body: { principal: 'trainee@pve!lab', path: '/vms/100', role: 'template-user' },
  });
  assert.equal(answer.status, 202, answer.text);
  const job = await api.producer.queues.permission.getJob(answer.body.jobId);
  assert.deepEqual(job!.data.privileges, ['VM.Clone', 'VM.Audit']);
  assert.equal(job!.data.platformId, 'default');
  const both = await api.request('POST', '/api/v1/permissions', {
    body: { principal: 'trainee@pve', path: '/', role: 'auditor', privileges: ['VM.Audit'] },
  });
  assert.equal(both.status, 400);
  const admin = await api.request('POST', '/api/v1/permissions', {
    body: { principal: 'trainee@pve', path: '/', privileges: ['Permissions.Modify'] },
  });
  assert.equal(admin.status, 400, 'administrative privileges cannot be granted');
});

/** Sends every body at once with `key`; the answers in the same order. */
function deployAll(key: string, bodies: { name: string; os: string }[]) {
  return Promise.all(bodies.map((body) => api.request('POST', '/api/v1/vms', { key, body })));
}

test('a deploy just accepted shows its nine pending steps, in GET /vms/:id and in the list alike', async () => {
  const answer = await api.request('POST', '/api/v1/vms', { body: { ...VALID_VM, name: 'just-accepted' } });
  assert.equal(answer.status, 202, answer.text);
  const vm = await api.request('GET', `/api/v1/vms/${answer.body.id}`);
  assert.equal(vm.status, 200);
  assert.deepEqual(
    vm.body.steps.map((step: Record<string, unknown>) => [step.name, step.status, step.attempts, step.startedAt]),
    VM_DEPLOY_STEPS.map((name) => [name, 'pending', 0, null]),
  );
  for (const step of vm.body.steps) assert.equal(step.queuedAt, vm.body.createdAt, 'queued with the VM');
  const list = await api.request('GET', '/api/v1/vms?limit=100');
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.body.items.find((item: { id: string }) => item.id === answer.body.id),
    vm.body,
  );
});

test('concurrent deploys are committed together (group commit): each answered, each queued once, the outbox empty', async () => {
  const key = await api.keyWithRole('operator', 'crowd');
  const bodies = Array.from({ length: 24 }, (_, index) => ({ name: `crowd-${index}`, os: 'debian-12' }));
  const answers = await deployAll(key, bodies);
  assert.deepEqual(
    answers.map((answer) => answer.status),
    bodies.map(() => 202),
  );
  const rows = await api.db
    .selectFrom('vms')
    .select(['id', 'name', 'created_at'])
    .where('project', '=', 'crowd')
    .execute();
  assert.deepEqual(rows.map((row) => row.name).sort(), bodies.map((body) => body.name).sort());
  for (const answer of answers) assert.ok(rows.some((row) => row.id === answer.body.id));
  // A statement's rows share its transaction's now(): fewer commits than deploys.
  assert.ok(new Set(rows.map((row) => row.created_at.getTime())).size < rows.length, 'some deploys went together');
  // Answered at their commits; the relay sends the intents just after, then deletes their rows.
  await allRelayed(api.db);
  const jobs = (await allJobs(api.producer)).filter((job) => rows.some((row) => job.data.vmId === row.id));
  assert.deepEqual(jobs.map((job) => job.id).sort(), rows.map((row) => `vm-deploy.${row.id}`).sort());
  for (const row of rows) {
    assert.deepEqual(
      (await listSteps(api.db, { vmId: row.id })).map((step) => step.name),
      [...VM_DEPLOY_STEPS],
    );
  }
});

test('concurrent deploys over a quota or with a taken name: each gets the answer it would get alone', async () => {
  const key = await api.keyWithRole('operator', 'packed');
  const set = await api.request('PUT', '/api/v1/projects/packed/quotas', { body: { maxVms: 5 } });
  assert.equal(set.status, 200, set.text);
  const bodies = Array.from({ length: 12 }, (_, index) => ({ name: `packed-${index}`, os: 'debian-12' }));
  const answers = await deployAll(key, bodies);
  const accepted = answers.filter((answer) => answer.status === 202);
  assert.equal(accepted.length, 5, answers.map((answer) => answer.status).join(' '));
  for (const answer of answers.filter((a) => a.status !== 202)) {
    assert.equal(answer.status, 409, answer.text);
    assert.equal(answer.body.error.details.quota, 'maxVms');
    assert.equal(answer.body.error.details.inUse, 5);
  }
  const rows = await api.db.selectFrom('vms').select('id').where('project', '=', 'packed').execute();
  assert.deepEqual(rows.map((row) => row.id).sort(), accepted.map((answer) => answer.body.id).sort());
  const usage = await api.request('GET', '/api/v1/projects/packed/quotas', { key });
  assert.equal(usage.body.usage.vms, 5);

  const twins = await deployAll(key, [
    { name: 'twin', os: 'debian-12' },
    { name: 'twin', os: 'debian-12' },
    { name: 'crowd-0', os: 'debian-12' },
  ]);
  const more = await api.request('PUT', '/api/v1/projects/packed/quotas', { body: { maxVms: 50 } });
  assert.equal(more.status, 200);
  const again = await deployAll(key, [
    { name: 'twin-a', os: 'debian-12' },
    { name: 'twin-a', os: 'debian-12' },
    { name: 'crowd-1', os: 'debian-12' },
    { name: 'solo-b', os: 'debian-12' },
  ]);
  assert.deepEqual(
    again.map((answer) => answer.status).sort(),
    [202, 202, 409, 409],
    again.map((answer) => answer.text).join('\n'),
  );
  for (const answer of again.filter((a) => a.status === 409)) assert.equal(answer.body.error.code, 'conflict');
  // Still over the quota of 5 when the twins came: quota refusals, nothing written.
  assert.deepEqual(
    twins.map((answer) => answer.status),
    [409, 409, 409],
  );
  for (const answer of twins) assert.equal(answer.body.error.code, 'quota_exceeded');
  const names = (await api.db.selectFrom('vms').select('name').where('project', '=', 'packed').execute()).map(
    (row) => row.name,
  );
  assert.equal(names.length, 7);
  assert.equal(names.filter((name) => name === 'twin-a').length, 1);
  assert.ok(names.includes('solo-b'));
});

/**
 * Writes a vm.deploy intent for `vmId` to the outbox and keeps its row locked until `release`, so the
 * relay's passes (which claim rows with SKIP LOCKED) leave it there meanwhile. A pass may take the row
 * in the moment between its commit and the lock; then another row is tried.
 */
async function heldIntent(vmId: string): Promise<{ jobId: string; release(): Promise<void> }> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const jobId = `vm-deploy.${vmId}.held-${attempt}`;
    const rowId = await insertOutboxIntent(api.db, jobIntent('vm.deploy', { vmId }, jobId) as JsonValue);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: (held: boolean) => void;
    const lockTaken = new Promise<boolean>((resolve) => {
      locked = resolve;
    });
    const transaction = api.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('outbox')
        .select('id')
        .where('id', '=', rowId)
        .forUpdate()
        .skipLocked()
        .execute();
      locked(rows.length === 1);
      if (rows.length === 1) await released;
    });
    transaction.catch(() => locked(false));
    if (await lockTaken) {
      return {
        jobId,
        release: async () => {
          release();
          await transaction;
        },
      };
    }
    await transaction.catch(() => {});
  }
  throw new Error('the relay took every intent before it could be held');
}

test('a job whose intent still waits in the outbox is shown in state outbox, only to readers of its VM', async () => {
  const owner = await api.keyWithRole('operator', 'outbox-a');
  const stranger = await api.keyWithRole('operator', 'outbox-b');
  const answer = await api.request('POST', '/api/v1/vms', { key: owner, body: { ...VALID_VM, name: 'outbox-held' } });
  assert.equal(answer.status, 202, answer.text);
  const vmId: string = answer.body.id;
  await allRelayed(api.db);

  const held = await heldIntent(vmId);
  try {
    const shown = await api.request('GET', `/api/v1/jobs/${held.jobId}`, { key: owner });
    assert.equal(shown.status, 200, shown.text);
    assert.equal(shown.body.id, held.jobId);
    assert.equal(shown.body.name, 'vm.deploy');
    assert.equal(shown.body.queue, 'vm');
    assert.equal(shown.body.state, 'outbox');
    assert.equal(shown.body.attemptsMade, 0);
    assert.deepEqual(shown.body.data, { vmId });
    assert.equal(await api.producer.queues.vm.getJob(held.jobId), undefined, 'not in BullMQ while held');
    const hidden = await api.request('GET', `/api/v1/jobs/${held.jobId}`, { key: stranger });
    assert.equal(hidden.status, 404);
  } finally {
    await held.release();
  }
  // Let go, the row is relayed: the same id is then the BullMQ job.
  await allRelayed(api.db);
  const relayed = await api.request('GET', `/api/v1/jobs/${held.jobId}`, { key: owner });
  assert.equal(relayed.status, 200);
  assert.equal(relayed.body.state, 'waiting');
});
