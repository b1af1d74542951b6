/**
 * recordVmSteps against a real Postgres: a step's end and the next step's start in one statement,
 * the VM's status with the step that brings it, and the events of a status change only when it took
 * effect; a start of lab tasks (startLabTasksIfRunning) reads a lab's VMs with their steps in order and pinned host keys
 * (findVmHostKeys reads the pins of many VMs at once); what a step learned of its VM (VMID, address,
 * host key pin) is written with its end; a standalone VM's plan is
 * shown as pending steps until planVmSteps writes them, once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import {
  createDb,
  type Db,
  findVmHostKey,
  findVmHostKeys,
  insertLab,
  insertVms,
  listStandaloneVms,
  listSteps,
  migrateToLatest,
  pinVmHostKey,
  planSteps,
  planVmSteps,
  recordVmSteps,
  startLabTasksIfRunning,
} from '../src/index';
import { queueVm } from './fixtures';

let database: TestDatabase;
let db: Db;
before(async () => {
  database = await createTestDatabase('vm_step_records');
  db = createDb(database.url);
  await migrateToLatest(db);
});
after(async () => {
  await db?.destroy();
  await database?.drop();
});

async function labVm(name: string) {
  const labId = await insertLab(db, {
    name,
    platformId: 'default',
    spec: {},
    graph: {},
    onFailure: 'fail',
    copies: 1,
    expiresAt: null,
  });
  const [vmId] = await insertVms(db, [
    { labId, copy: 0, name: 'vm-a', os: 'ubuntu-22.04', platformId: 'default', node: 'pve', spec: {} },
  ]);
  await planSteps(db, { vmId: vmId!, labId }, ['one', 'two', 'three']);
  return { labId, vmId: vmId! };
}

const statusOf = async (vmId: string) =>
  (await db.selectFrom('vms').select('status').where('id', '=', vmId).executeTakeFirstOrThrow()).status;
const eventsOf = async (vmId: string) =>
  db
    .selectFrom('events')
    .select(['lab_id', 'kind', 'message', 'data'])
    .where('vm_id', '=', vmId)
    .orderBy('id')
    .execute();
const stepsOf = async (owner: { vmId: string; labId: string }) =>
  (await listSteps(db, owner)).map((s) => [s.name, s.status, s.attempts, s.error, s.detail]);

test('a step ends and the next starts in one statement; the VM moves with the first start', async () => {
  const owner = await labVm('steps-a');
  const deploy = { from: ['queued'], to: 'deploying' };
  assert.deepEqual(
    await recordVmSteps(db, owner, {
      start: { name: 'one', event: { kind: 'vm.step.started', message: 'one started' } },
      move: deploy,
    }),
    { moved: true },
  );
  assert.equal(await statusOf(owner.vmId), 'deploying');
  await recordVmSteps(db, owner, {
    end: {
      name: 'one',
      outcome: { status: 'done', detail: { vmid: 101 } },
      event: { kind: 'vm.step.done', message: 'one done' },
    },
    start: { name: 'two', event: { kind: 'vm.step.started', message: 'two started' } },
  });
  await recordVmSteps(db, owner, {
    end: {
      name: 'two',
      outcome: { status: 'failed', error: 'boom' },
      event: { kind: 'vm.step.failed', message: 'two failed: boom' },
    },
  });
  assert.deepEqual(await stepsOf(owner), [
    ['one', 'done', 1, null, { vmid: 101 }],
    ['two', 'failed', 1, 'boom', null],
    ['three', 'pending', 0, null, null],
  ]);
  assert.deepEqual(
    (await eventsOf(owner.vmId)).map((e) => [e.lab_id, e.kind, e.message]),
    [
      [owner.labId, 'vm.step.started', 'one started'],
      [owner.labId, 'vm.step.done', 'one done'],
      [owner.labId, 'vm.step.started', 'two started'],
      [owner.labId, 'vm.step.failed', 'two failed: boom'],
    ],
  );
  // A retry starts the failed step again: its attempt counted, its error cleared, its detail kept.
  await recordVmSteps(db, owner, {
    start: { name: 'two', event: { kind: 'vm.step.started', message: 'two started' } },
  });
  assert.deepEqual((await stepsOf(owner))[1], ['two', 'running', 2, null, null]);
});

test("a status change's events are appended only when it took effect", async () => {
  const owner = await labVm('steps-b');
  const ready = { from: ['deploying'], to: 'ready' };
  const end = {
    name: 'three',
    outcome: { status: 'done' as const },
    event: { kind: 'vm.step.done', message: 'three done' },
  };
  const moved = [{ kind: 'vm.ready', message: 'ready at 10.0.0.5', data: { ip: '10.0.0.5' } }];
  // Still queued: not deploying, so no move and no vm.ready, but the step's end is recorded.
  assert.equal((await recordVmSteps(db, owner, { end, move: ready, moved })).moved, false);
  assert.equal(await statusOf(owner.vmId), 'queued');
  assert.deepEqual(
    (await eventsOf(owner.vmId)).map((e) => e.kind),
    ['vm.step.done'],
  );
  await recordVmSteps(db, owner, { move: { from: ['queued'], to: 'deploying' } });
  assert.equal((await recordVmSteps(db, owner, { move: ready, moved })).moved, true);
  assert.equal(await statusOf(owner.vmId), 'ready');
  const events = await eventsOf(owner.vmId);
  assert.deepEqual(
    events.map((e) => [e.kind, e.data]),
    [
      ['vm.step.done', null],
      ['vm.ready', { ip: '10.0.0.5' }],
    ],
  );
});

/** Lab VMs with their steps as a start of their tasks reads them (here starting no task). */
async function labVms(labId: string, vms: { copy: number; name: string }[]) {
  return (await startLabTasksIfRunning(db, labId, [], [], vms)).vms;
}

test("a lab's VMs are read with their steps in order, in one statement", async () => {
  const owner = await labVm('steps-c');
  const [other] = await insertVms(db, [
    { labId: owner.labId, copy: 0, name: 'vm-b', os: 'ubuntu-22.04', platformId: 'default', node: 'pve', spec: {} },
  ]);
  await planSteps(db, { vmId: other!, labId: owner.labId }, ['only']);
  await recordVmSteps(db, owner, {
    start: { name: 'one', event: { kind: 'vm.step.started', message: 'one started' } },
  });
  await pinVmHostKey(db, { vmId: owner.vmId, fingerprint: 'SHA256:pinned-a', keyType: 'ssh-ed25519' });
  const rows = await labVms(owner.labId, [
    { copy: 0, name: 'vm-a' },
    { copy: 1, name: 'vm-a' },
    { copy: 0, name: 'vm-b' },
  ]);
  assert.equal(rows.length, 2, 'a VM the lab does not have is left out');
  const row = rows.find((r) => r.name === 'vm-a');
  assert.equal(row?.id, owner.vmId);
  assert.equal(row?.status, 'queued');
  assert.deepEqual(row?.steps, [
    { name: 'one', status: 'running', attempts: 1, error: null },
    { name: 'two', status: 'pending', attempts: 0, error: null },
    { name: 'three', status: 'pending', attempts: 0, error: null },
  ]);
  assert.deepEqual(rows.find((r) => r.name === 'vm-b')?.steps, [
    { name: 'only', status: 'pending', attempts: 0, error: null },
  ]);
  assert.equal(row?.pinned_host_key, 'SHA256:pinned-a');
  assert.equal(rows.find((r) => r.name === 'vm-b')?.pinned_host_key, null, 'a VM without a pin reads none');
  assert.deepEqual(await labVms(owner.labId, []), []);
  assert.deepEqual(
    [...(await findVmHostKeys(db, [owner.vmId, other!, randomUUID()])).entries()],
    [[owner.vmId, 'SHA256:pinned-a']],
    'the pins of many VMs in one read; VMs without one are left out',
  );
  assert.equal((await findVmHostKeys(db, [])).size, 0);
});

test("a lab's VMs' steps are planned in one call, each VM's in order, and planning again keeps them", async () => {
  const owner = await labVm('steps-d');
  const [other] = await insertVms(db, [
    { labId: owner.labId, copy: 0, name: 'vm-b', os: 'ubuntu-22.04', platformId: 'default', node: 'pve', spec: {} },
  ]);
  await recordVmSteps(db, owner, {
    start: { name: 'one', event: { kind: 'vm.step.started', message: 'one started' } },
  });
  const owners = [owner, { vmId: other!, labId: owner.labId }];
  await planSteps(db, owners, ['one', 'four', 'five']);
  const rows = await labVms(owner.labId, [
    { copy: 0, name: 'vm-a' },
    { copy: 0, name: 'vm-b' },
  ]);
  assert.deepEqual(
    rows.find((r) => r.name === 'vm-a')?.steps.map((s) => `${s.name}:${s.status}`),
    ['one:running', 'two:pending', 'three:pending', 'four:pending', 'five:pending'],
  );
  assert.deepEqual(
    rows.find((r) => r.name === 'vm-b')?.steps.map((s) => `${s.name}:${s.status}`),
    ['one:pending', 'four:pending', 'five:pending'],
  );
});

test("a standalone VM's plan reads as pending steps until the installer writes them, once, unchanged", async () => {
  const plan = ['reserve-vmid', 'clone', 'verify'];
  const id = await queueVm(db, plan, 'planned');
  const { created_at } = await db.selectFrom('vms').select('created_at').where('id', '=', id).executeTakeFirstOrThrow();
  const shown = (steps: Awaited<ReturnType<typeof listSteps>>) =>
    steps.map((step) => [step.name, step.status, step.attempts, step.queued_at.getTime(), step.started_at, step.error]);
  const expected = plan.map((name) => [name, 'pending', 0, created_at.getTime(), null, null]);
  const listed = async () =>
    JSON.parse((await listStandaloneVms(db, { limit: 100, offset: 0 })).items.find((vm) => vm.id === id)!.shown)
      .steps as {
      name: string;
      status: string;
      queuedAt: string;
    }[];

  const before = await listSteps(db, { vmId: id });
  assert.deepEqual(shown(before), expected, 'the plan, as pending steps queued with the VM');
  assert.deepEqual(
    (await listed()).map((step) => [step.name, step.status, step.queuedAt]),
    plan.map((name) => [name, 'pending', created_at.toISOString()]),
    'the list shows the same plan',
  );

  const recorded = await planVmSteps(db, id);
  assert.deepEqual(
    recorded.map((step) => [step.name, step.status, step.attempts, step.error]),
    plan.map((name) => [name, 'pending', 0, null]),
  );
  const rows = await listSteps(db, { vmId: id });
  assert.deepEqual(shown(rows), expected, 'the rows written are what readers showed');
  assert.ok(rows.every((row) => row.id !== null));

  await recordVmSteps(db, { vmId: id }, { start: { name: 'reserve-vmid', event: { kind: 'k', message: 'm' } } });
  const again = await planVmSteps(db, id);
  assert.deepEqual(
    again.map((step) => [step.name, step.status, step.attempts]),
    [
      ['reserve-vmid', 'running', 1],
      ['clone', 'pending', 0],
      ['verify', 'pending', 0],
    ],
    'planning again keeps the rows and what they recorded',
  );
  const count = await db
    .selectFrom('steps')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('vm_id', '=', id)
    .executeTakeFirstOrThrow();
  assert.equal(Number(count.n), plan.length);
  assert.deepEqual(
    (await listed()).map((step) => [step.name, step.status]),
    [
      ['reserve-vmid', 'running'],
      ['clone', 'pending'],
      ['verify', 'pending'],
    ],
  );
});

test('what a step learned of its VM is written with its end: the VMID, the address forgetting the pin, or with a new pin', async () => {
  const owner = await labVm('steps-writes');
  const vmRow = () =>
    db.selectFrom('vms').select(['vmid', 'ip', 'status']).where('id', '=', owner.vmId).executeTakeFirstOrThrow();
  const done = (name: string) => ({ kind: 'vm.step.done', message: `${name} done` });
  await recordVmSteps(db, owner, {
    start: { name: 'one', event: { kind: 'vm.step.started', message: 'one started' } },
  });
  await recordVmSteps(db, owner, {
    end: { name: 'one', outcome: { status: 'done' }, event: done('one'), writes: { vmid: 4242 } },
    start: { name: 'two', event: { kind: 'vm.step.started', message: 'two started' } },
  });
  assert.deepEqual(await vmRow(), { vmid: 4242, ip: null, status: 'queued' });
  assert.deepEqual((await stepsOf(owner)).slice(0, 2), [
    ['one', 'done', 1, null, null],
    ['two', 'running', 1, null, null],
  ]);

  await pinVmHostKey(db, { vmId: owner.vmId, fingerprint: 'SHA256:old', keyType: 'ssh-ed25519' });
  await recordVmSteps(db, owner, {
    end: { name: 'two', outcome: { status: 'done' }, event: done('two'), writes: { ip: '10.1.2.3' } },
  });
  assert.deepEqual(await vmRow(), { vmid: 4242, ip: '10.1.2.3', status: 'queued' }, 'the VMID is kept');
  assert.equal(await findVmHostKey(db, owner.vmId), undefined, 'an address alone forgets the pin');

  await pinVmHostKey(db, { vmId: owner.vmId, fingerprint: 'SHA256:old', keyType: 'ssh-ed25519' });
  await recordVmSteps(db, owner, {
    end: {
      name: 'two',
      outcome: { status: 'done' },
      event: done('two'),
      writes: { ip: '10.1.2.4', pin: { fingerprint: 'SHA256:new', keyType: 'ssh-ed25519' } },
    },
  });
  assert.deepEqual(await vmRow(), { vmid: 4242, ip: '10.1.2.4', status: 'queued' });
  assert.equal(await findVmHostKey(db, owner.vmId), 'SHA256:new', 'a new pin replaces the old one');
  const other = await labVm('steps-writes-b');
  await recordVmSteps(db, other, {
    end: {
      name: 'one',
      outcome: { status: 'done' },
      event: done('one'),
      writes: { ip: '10.1.2.5', pin: { fingerprint: 'SHA256:first', keyType: 'ssh-ed25519' } },
    },
  });
  assert.equal(await findVmHostKey(db, other.vmId), 'SHA256:first', 'a VM without a pin gets one');

  // With a status change: one update of the VM's row when it moves, the writes alone when it does not.
  assert.deepEqual(
    await recordVmSteps(db, owner, {
      end: { name: 'three', outcome: { status: 'done' }, event: done('three'), writes: { vmid: 4243 } },
      move: { from: ['queued'], to: 'deploying' },
    }),
    { moved: true },
  );
  assert.deepEqual(await vmRow(), { vmid: 4243, ip: '10.1.2.4', status: 'deploying' });
  assert.deepEqual(
    await recordVmSteps(db, owner, {
      end: { name: 'three', outcome: { status: 'done' }, event: done('three'), writes: { vmid: 4244 } },
      move: { from: ['queued'], to: 'deploying' },
    }),
    { moved: false },
  );
  assert.deepEqual(await vmRow(), { vmid: 4244, ip: '10.1.2.4', status: 'deploying' }, 'written though not moved');
});

test('a quiet step: its start (attempt, time, event) is recorded with its end, with the next start and the VM move', async () => {
  const owner = await labVm('steps-quiet');
  const event = (name: string, outcome: string) => ({ kind: `vm.step.${outcome}`, message: `${name} ${outcome}` });
  const before = Date.now();
  assert.deepEqual(
    await recordVmSteps(db, owner, {
      end: {
        name: 'one',
        outcome: { status: 'done', detail: { vmid: 7 } },
        event: event('one', 'done'),
        quietStart: { ranMs: 1500, event: event('one', 'started') },
        writes: { vmid: 7 },
      },
      start: { name: 'two', event: event('two', 'started') },
      move: { from: ['queued'], to: 'deploying' },
    }),
    { moved: true },
  );
  const [one, two] = await db
    .selectFrom('steps')
    .select(['name', 'status', 'attempts', 'started_at', 'finished_at'])
    .where('vm_id', '=', owner.vmId)
    .where('name', 'in', ['one', 'two'])
    .orderBy('id')
    .execute();
  assert.equal(one?.status, 'done');
  assert.equal(one?.attempts, 1, 'the quiet try is counted');
  const ran = one!.finished_at!.getTime() - one!.started_at!.getTime();
  assert.ok(Math.abs(ran - 1500) <= 1, `started as long before its end as it ran (${ran} ms)`);
  assert.ok(one!.started_at!.getTime() >= before - 1500 - 1000);
  assert.equal(two?.status, 'running');
  assert.equal(two?.attempts, 1);
  assert.equal(await statusOf(owner.vmId), 'deploying');
  assert.deepEqual(
    (await eventsOf(owner.vmId)).map((e) => e.message),
    ['one started', 'one done', 'two started'],
    'its started event first',
  );

  // A quiet step that failed: its try counted and the VM moved, as a recorded start would have.
  const other = await labVm('steps-quiet-b');
  await recordVmSteps(db, other, {
    end: {
      name: 'one',
      outcome: { status: 'failed', error: 'no lease' },
      event: event('one', 'failed'),
      quietStart: { ranMs: 5, event: event('one', 'started') },
    },
    move: { from: ['queued'], to: 'deploying' },
  });
  assert.deepEqual((await stepsOf(other))[0], ['one', 'failed', 1, 'no lease', null]);
  assert.equal(await statusOf(other.vmId), 'deploying');
});
