import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db } from '@glassdome/db';
import { waitFor } from '@glassdome/testkit';
import { type Harness, startHarness } from './harness';

let harness: Harness;
let db: Db;
before(async () => {
  // Clones last long enough (600 ms) that concurrent ones visibly overlap; agents are quick (about
  // 0.1 s after start at the simulator's time scale), so two seconds leave a loaded machine its margin
  // for one that answers, and each of the four attempts at one that never does costs two, not three.
  // Between those attempts the test needs only that the task is retried, not the catalog's waits of
  // 2, 4 and 8 s: a quarter-second base makes them 1.75 s in all.
  harness = await startHarness(
    { installers: 2, env: { AGENT_TIMEOUT_SECONDS: '2', LAB_TASK_BACKOFF_MS: '250' } },
    { PVE_SIM_LATENCIES: JSON.stringify({ linkedClone: 60_000 }) },
  );
  db = createDb(harness.databaseUrl);
});
after(async () => {
  await db?.destroy();
  await harness?.stop();
});

type Step = { name: string; status: string; attempts: number; startedAt: string; finishedAt: string };
type LabVm = { name: string; status: string; copy: number; vmid: number; ip: string; steps: Step[] };

async function deployAndWait(spec: unknown, statuses: string[], timeoutMs = 180_000) {
  const accepted = await harness.api('POST', '/api/v1/labs', spec);
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const id = String(accepted.body.id);
  const lab = await waitFor(
    `lab ${id} to reach ${statuses.join('|')}`,
    async () => {
      const { body } = await harness.api('GET', `/api/v1/labs/${id}`);
      return statuses.includes(String(body.status)) ? body : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  ).catch(async (error: Error) => {
    // Say where it stands: each VM's steps and the lab's own tasks.
    const { body } = await harness.api('GET', `/api/v1/labs/${id}`);
    const db = createDb(harness.databaseUrl);
    const tasks = await db
      .selectFrom('steps')
      .select(['name', 'status', 'attempts', 'error'])
      .where('lab_id', '=', id)
      .where('vm_id', 'is', null)
      .execute();
    await db.destroy();
    throw new Error(`${error.message}\nlab: ${JSON.stringify(body)}\ntasks: ${JSON.stringify(tasks)}`);
  });
  return { id, lab: lab as { status: string; error?: string; vms: LabVm[] } };
}

const at = (vm: LabVm, step: string, edge: 'startedAt' | 'finishedAt') =>
  Date.parse(vm.steps.find((s) => s.name === step)![edge]);

test('a diamond lab respects every edge, overlaps what it may, and tears down to nothing', async () => {
  const vm = (name: string, dependsOn: string[] = []) => ({ name, os: 'ubuntu-22.04', networks: ['lan'], dependsOn });
  const { id, lab } = await deployAndWait(
    {
      name: 'diamond',
      networks: [{ name: 'lan', cidr: '10.20.0.0/24' }],
      vms: [vm('a'), vm('b', ['a']), vm('c', ['a']), vm('d', ['b', 'c'])],
    },
    ['ready', 'failed', 'degraded'],
  );
  assert.equal(lab.status, 'ready', lab.error);
  const byName = Object.fromEntries(lab.vms.map((v) => [v.name, v]));
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => byName[name]!);
  for (const v of [a!, b!, c!, d!]) assert.equal(v.status, 'ready');

  // Every edge: post-configuration waits for each dependency to be ready (verified).
  for (const [child, parent] of [
    [b!, a!],
    [c!, a!],
    [d!, b!],
    [d!, c!],
  ] as const) {
    assert.ok(
      at(child, 'post-configure', 'startedAt') >= at(parent, 'verify', 'finishedAt'),
      `${child.name} after ${parent.name}`,
    );
  }
  // What the graph allows in parallel happens in parallel: the four clones overlap, and so do B and C.
  const clones = [a!, b!, c!, d!];
  assert.ok(
    Math.max(...clones.map((v) => at(v, 'clone', 'startedAt'))) <
      Math.min(...clones.map((v) => at(v, 'clone', 'finishedAt'))),
    'all four clones overlap',
  );
  assert.ok(
    Math.max(at(b!, 'clone', 'startedAt'), at(c!, 'clone', 'startedAt')) <
      Math.min(at(b!, 'verify', 'finishedAt'), at(c!, 'verify', 'finishedAt')),
    'b and c overlap',
  );

  const vmids = new Set(lab.vms.map((v) => v.vmid));
  const simVmids = async () =>
    Object.keys(((await harness.sim.admin('GET', '/state')) as { vms: Record<string, unknown> }).vms)
      .map(Number)
      .filter((vmid) => vmids.has(vmid));
  assert.equal((await simVmids()).length, 4, 'the four VMs exist before the tear-down');
  assert.ok((await db.selectFrom('vmid_leases').selectAll().execute()).length >= 4, 'VMID leases exist before it');
  assert.ok(
    (await db.selectFrom('network_leases').selectAll().execute()).length >= 1,
    'the VLAN lease exists before it',
  );

  const deleted = await harness.api('DELETE', `/api/v1/labs/${id}`);
  assert.equal(deleted.status, 202);
  await waitFor(
    'lab destroyed',
    async () => (await harness.api('GET', `/api/v1/labs/${id}`)).body.status === 'destroyed',
    {
      timeoutMs: 60_000,
    },
  );
  assert.deepEqual(await simVmids(), [], 'no VM of the lab is left in the simulator');
  assert.equal((await db.selectFrom('vmid_leases').selectAll().execute()).length, 0, 'no VMID lease left');
  assert.equal((await db.selectFrom('network_leases').selectAll().execute()).length, 0, 'no network lease left');
});

test('three copies of a lab get three disjoint networks', async () => {
  const { id, lab } = await deployAndWait(
    {
      name: 'class-of-three',
      copies: 3,
      networks: [{ name: 'lan', cidr: '10.30.0.0/24' }],
      vms: [{ name: 'box', os: 'ubuntu-22.04', networks: ['lan'] }],
    },
    ['ready', 'failed', 'degraded'],
  );
  assert.equal(lab.status, 'ready', lab.error);
  assert.equal(lab.vms.length, 3);
  const leases = await db.selectFrom('network_leases').select(['tag', 'owner']).where('lab_id', '=', id).execute();
  assert.equal(leases.length, 3);
  assert.equal(new Set(leases.map((l) => l.tag)).size, 3, `tags ${leases.map((l) => l.tag)}`);
});

test('a VM whose agent never comes up fails the lab with the reason; a retry re-runs only that and ends ready', async () => {
  await harness.sim.admin('POST', '/faults', { agentNeverUp: 'all' });
  let labId: string;
  let silentAttempts: number;
  try {
    const { id, lab } = await deployAndWait(
      {
        name: 'no-agent',
        networks: [{ name: 'lan', cidr: '10.40.0.0/24' }],
        vms: [{ name: 'mute', os: 'ubuntu-22.04', networks: ['lan'] }],
      },
      ['failed', 'degraded', 'ready'],
      180_000,
    );
    labId = id;
    assert.equal(lab.status, 'failed');
    assert.match(String(lab.error), /agent|IP/i);
    assert.equal(lab.vms[0]?.status, 'failed');
    silentAttempts = attemptsOf(lab.vms[0]!, 'wait-agent');
  } finally {
    await harness.sim.admin('POST', '/faults', { agentNeverUp: null });
  }
  const retried = await harness.api('POST', `/api/v1/labs/${labId}/retry`);
  assert.equal(retried.status, 202, JSON.stringify(retried.body));
  const lab = (await waitFor(
    'retried lab to settle',
    async () => {
      const { body } = await harness.api('GET', `/api/v1/labs/${labId}`);
      return ['ready', 'failed', 'degraded'].includes(String(body.status)) ? body : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  )) as { status: string; vms: LabVm[] };
  assert.equal(lab.status, 'ready', JSON.stringify(lab.vms[0]?.steps));
  const steps = lab.vms[0]!.steps;
  assert.equal(steps.find((s) => s.name === 'clone')!.status, 'done');
  assert.equal(attemptsOf(lab.vms[0]!, 'clone'), 1, 'the clone that had succeeded was not repeated');
  // A guest whose agent never answered does not start it by itself: the retry's first attempt knows why
  // the last one failed and reboots the VM first, so one attempt is enough.
  assert.equal(attemptsOf(lab.vms[0]!, 'wait-agent'), silentAttempts + 1, JSON.stringify(steps));
});

function attemptsOf(vm: LabVm, step: string): number {
  const found = vm.steps.find((s) => s.name === step);
  assert.ok(found, `${vm.name} has a ${step} step`);
  return found.attempts;
}
