/**
 * Running a class, end to end on the simulator (issue 16): a catalog lab deployed with parameters
 * puts the given trainee key on the trainee VM of every copy (and nowhere else), and its roster lists
 * each copy's addresses and SSH command; a warm pool of 3 copies of a saved spec hands one over with
 * the claimer's key on its guests and refills to 3; scheduled pre-warms (a cron job scheduler, a
 * one-off at a given time) resize and fill the pool.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SshPool, type SshTarget } from '@glassdome/ssh';
import { addOsTemplates, newSshKeyPair, OS_TEMPLATE_VMIDS, waitFor } from '@glassdome/testkit';
import { type Harness, memoryHostKeys, startHarness } from './harness';

let harness: Harness;
const ssh = new SshPool();
const hostKeys = memoryHostKeys();
let claimer: { privateKey: string; publicKey: string };

before(async () => {
  harness = await startHarness({
    installers: 2,
    overseer: true,
    env: { TEMPLATE_VMIDS: OS_TEMPLATE_VMIDS, ISOLATION_CHECK_SECONDS: '20', API_RATE_LIMIT: '100000' },
  });
  await addOsTemplates(harness.sim.info, { grantClone: true });
  claimer = newSshKeyPair('claimer@class');
});
after(async () => {
  ssh.close();
  await harness?.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: answers are JSON whose shape each test asserts
type Json = any;

/** The harness's API call with its answer's body as JSON to assert on. */
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  return harness.api(method, path, body);
}

type LabVm = { id: string; name: string; copy: number; status: string; access: { host: string; port: number } | null };
type Lab = { id: string; name: string; status: string; error?: string; expiresAt: string | null; vms: LabVm[] };

async function labOf(id: string): Promise<Lab> {
  return (await api('GET', `/api/v1/labs/${id}`)).body as unknown as Lab;
}

/** Whether `user` gets in with `key` and runs a command. */
async function logsIn(vm: LabVm, user: string, key: string): Promise<boolean> {
  assert.ok(vm.access, `${vm.name} says how to reach it`);
  const target: SshTarget = {
    host: vm.access.host,
    port: vm.access.port,
    username: user,
    privateKey: key,
    hostKey: { kind: 'tofu', store: hostKeys },
  };
  try {
    const result = await ssh.exec(target, ['id', '-un'], { allowFailure: true, timeoutMs: 20_000 });
    return result.exitCode === 0 && result.stdout.trim() === user;
  } catch {
    return false;
  }
}

test('a catalog lab with parameters: the trainee key on every copy’s attacker, and a roster of each copy', async () => {
  const template = await api('GET', '/api/v1/lab-templates/web-pentest-101');
  assert.equal(template.status, 200, JSON.stringify(template.body));
  assert.deepEqual(template.body.parameters.traineeKeys.vms, ['attacker']);
  assert.ok(template.body.spec.vms.length === 2);
  const bad = await api('POST', '/api/v1/labs', {
    template: 'web-pentest-101',
    parameters: { vms: { attacker: { memoryMiB: 512 } } },
  });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.body), /parameters\.vms\.attacker\.memoryMiB/);

  const accepted = await api('POST', '/api/v1/labs', {
    template: 'web-pentest-101',
    name: 'pentest-class',
    parameters: { copies: 2, ttl: '4h', traineeKeys: [harness.userKey.publicKey], vms: { target: { cpus: 1 } } },
  });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const lab = (await harness.waitForLab(String(accepted.body.id), 300_000)) as unknown as Lab;
  assert.equal(lab.status, 'ready', lab.error);
  assert.equal(lab.vms.length, 4);
  for (const copy of [0, 1]) {
    const attacker = lab.vms.find((vm) => vm.copy === copy && vm.name === 'attacker')!;
    const target = lab.vms.find((vm) => vm.copy === copy && vm.name === 'target')!;
    assert.ok(
      await logsIn(attacker, 'kali', harness.userKey.privateKey),
      `copy ${copy}: the trainee logs into the attacker`,
    );
    assert.ok(!(await logsIn(target, 'ubuntu', harness.userKey.privateKey)), `copy ${copy}: not into the target`);
  }

  const roster = await api('GET', `/api/v1/labs/${lab.id}/roster`);
  assert.equal(roster.status, 200, JSON.stringify(roster.body));
  const rows = roster.body.rows as {
    copyNumber: number;
    vm: string;
    addresses: Record<string, string>;
    ssh: { command: string | null };
    sshKeys: { comment: string | null }[];
  }[];
  assert.equal(rows.length, 4);
  for (const copyNumber of [1, 2]) {
    const attacker = rows.find((row) => row.copyNumber === copyNumber && row.vm === 'attacker')!;
    const target = rows.find((row) => row.copyNumber === copyNumber && row.vm === 'target')!;
    assert.deepEqual(attacker.addresses, { lan: '10.10.0.100/24' });
    assert.deepEqual(target.addresses, { lan: '10.10.0.10/24' });
    assert.match(attacker.ssh.command ?? '', /^ssh (-p \d+ )?kali@127\.64\./);
    assert.ok(
      attacker.sshKeys.some((key) => key.comment === 'trainee@class'),
      'the trainee key is listed',
    );
  }
  const csv = await fetch(`${harness.stack.apiUrl}/api/v1/labs/${lab.id}/roster`, {
    headers: { Authorization: `Bearer ${harness.stack.adminKey}`, Accept: 'text/csv' },
  });
  assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
  const lines = (await csv.text()).trim().split('\r\n');
  assert.equal(lines.length, 5, 'a header and one line per copy × VM');
  assert.match(lines[0]!, /^copy,vm,status/);
  assert.ok(lines.some((line) => line.startsWith('2,attacker,ready,') && line.includes('lan=10.10.0.100/24')));
});

test('a warm pool of 3 hands one copy over with the claimer’s key and refills to 3', async () => {
  const saved = await api('POST', '/api/v1/lab-specs', {
    spec: {
      name: 'warm-box',
      networks: [{ name: 'lan', cidr: '10.60.0.0/24' }],
      vms: [{ name: 'box', os: 'ubuntu-22.04', networks: ['lan'], cloudInit: { user: 'trainee' } }],
    },
  });
  assert.equal(saved.status, 201, JSON.stringify(saved.body));
  assert.equal(saved.body.version, 1);
  const created = await api('POST', '/api/v1/pools', { name: 'monday', spec: 'warm-box', size: 3 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const poolId = String(created.body.id);
  const readyCopies = async () => ((await api('GET', `/api/v1/pools/${poolId}`)).body.copies.ready as number) ?? 0;
  await waitFor('3 ready copies', async () => (await readyCopies()) === 3, { timeoutMs: 240_000, intervalMs: 500 });

  // A claim into the pool's own project makes the pool deploy a replacement there: a project at its
  // copies quota claims nothing.
  const usage = (await api('GET', '/api/v1/projects/default/quotas')).body.usage as { copies: number };
  await api('PUT', '/api/v1/projects/default/quotas', { maxCopies: usage.copies });
  const full = await api('POST', `/api/v1/pools/${poolId}/claim`, { name: 'student-eve' });
  await api('PUT', '/api/v1/projects/default/quotas', { maxCopies: null });
  assert.equal(full.status, 409, JSON.stringify(full.body));
  assert.equal(full.body.error.details.quota, 'maxCopies');
  assert.equal(await readyCopies(), 3, 'the refused claim took nothing');

  const claim = await api('POST', `/api/v1/pools/${poolId}/claim`, {
    name: 'student-ada',
    ttl: '3h',
    traineeKeys: [claimer.publicKey],
  });
  assert.equal(claim.status, 200, JSON.stringify(claim.body));
  assert.equal(claim.body.name, 'student-ada');
  assert.equal(claim.body.keys.status, 'done', JSON.stringify(claim.body.keys));
  assert.ok(Number(claim.body.claimMs) > 0);
  assert.ok(Date.parse(claim.body.expiresAt) > Date.now() + 2 * 3600_000, 'its TTL started at the claim');
  const lab = await labOf(String(claim.body.labId));
  assert.equal(lab.name, 'student-ada');
  assert.equal(lab.status, 'ready');
  assert.ok(await logsIn(lab.vms[0]!, 'trainee', claimer.privateKey), 'the claimer’s key is on the guest');

  const pool = (await api('GET', `/api/v1/pools/${poolId}`)).body;
  assert.ok(pool.copies.total >= 2 && pool.copies.total <= 3, JSON.stringify(pool.copies));
  await waitFor('the pool refilled to 3 ready copies', async () => (await readyCopies()) === 3, {
    timeoutMs: 240_000,
    intervalMs: 500,
  });
  const after = (await api('GET', `/api/v1/pools/${poolId}`)).body;
  assert.equal(after.claimLatencyMs.samples, 1);
  assert.ok(
    !after.members.some((member: { labId: string }) => member.labId === lab.id),
    'the claimed copy left the pool',
  );
  const metrics = await (await fetch(`${harness.stack.apiUrl}/metrics`)).text();
  assert.match(metrics, /glassdome_pool_copies\{pool="monday",status="ready"\} 3/);
  assert.match(metrics, /glassdome_pool_size\{pool="monday"\} 3/);
  const last = /glassdome_pool_claim_seconds\{pool="monday",stat="last"\} (\S+)/.exec(metrics)?.[1];
  assert.equal(Number(last), Number(claim.body.claimMs) / 1000, 'the claim latency the claimer was told');

  assert.equal((await labOf(lab.id)).status, 'ready', 'the claimed copy is not the pool’s any more');
});

test('scheduled pre-warms: a job scheduler fills the pool at its time, a one-off empties it', async () => {
  const poolId = String((await api('GET', '/api/v1/pools/monday')).body.id);
  const poolOf = async () => (await api('GET', `/api/v1/pools/${poolId}`)).body;
  const shrunk = await api('PATCH', `/api/v1/pools/${poolId}`, { size: 1 });
  assert.equal(shrunk.status, 200, JSON.stringify(shrunk.body));
  await waitFor('the pool down to 1', async () => (await poolOf()).copies.total === 1, {
    timeoutMs: 120_000,
    intervalMs: 500,
  });

  // A BullMQ job scheduler: every 5 seconds (a class's would be e.g. "30 8 * * 1").
  const cron = await api('POST', `/api/v1/pools/${poolId}/schedules`, { size: 2, cron: '*/5 * * * * *' });
  assert.equal(cron.status, 201, JSON.stringify(cron.body));
  assert.equal(cron.body.kind, 'cron');
  assert.ok(cron.body.next, 'the scheduler says when it fires next');
  const filled = await waitFor(
    'the scheduler to set the size and the pool to fill',
    async () => {
      const pool = await poolOf();
      return pool.size === 2 && pool.copies.ready === 2 ? pool : undefined;
    },
    { timeoutMs: 240_000, intervalMs: 500 },
  );
  assert.equal(filled.copies.total, 2);
  const removed = await api('DELETE', `/api/v1/pools/${poolId}/schedules/${cron.body.id}`);
  assert.equal(removed.status, 200, JSON.stringify(removed.body));

  // Once, at a given time: nothing changes before it, the pool is emptied after it.
  const at = new Date(Date.now() + 8_000).toISOString();
  const once = await api('POST', `/api/v1/pools/${poolId}/schedules`, { size: 0, at });
  assert.equal(once.status, 201, JSON.stringify(once.body));
  assert.equal(once.body.kind, 'once');
  const listed = (await poolOf()).schedules as { id: string; kind: string }[];
  assert.deepEqual(
    listed.map((schedule) => schedule.kind),
    ['once'],
    'the cron schedule is gone, the one-off is waiting',
  );
  const early = await poolOf();
  if (Date.now() < Date.parse(at)) assert.equal(early.size, 2, 'not before its time');
  await waitFor('the pool emptied at its time', async () => (await poolOf()).copies.total === 0, {
    timeoutMs: 120_000,
    intervalMs: 500,
  });
  assert.ok(Date.now() >= Date.parse(at), 'not before its time');
  assert.equal((await poolOf()).size, 0);
});
