import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db } from '@glassdome/db';
import { labJobId, Producer } from '@glassdome/queue';
import { SshPool } from '@glassdome/ssh';
import { waitFor } from '@glassdome/testkit';
import { type Harness, memoryHostKeys, startHarness } from './harness';

let harness: Harness;
let db: Db;
before(async () => {
  // One installer at a time, short job locks so a killed worker's job is resumed within seconds, and
  // a clone long enough (3 s) to be killed in the middle of.
  harness = await startHarness(
    { installers: 1, env: { WORKER_LOCK_SECONDS: '3' } },
    { PVE_SIM_LATENCIES: JSON.stringify({ linkedClone: 300_000 }) },
  );
  db = createDb(harness.databaseUrl);
});
after(async () => {
  await db?.destroy();
  await harness?.stop();
});

async function stepStatus(vmId: string, name: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('steps')
    .select('status')
    .where('vm_id', '=', vmId)
    .where('name', '=', name)
    .executeTakeFirst();
  return row?.status;
}

/** kill -9 the running installer once `step` of the VM is running, then start a fresh one. */
async function crashDuring(vmId: string, step: string): Promise<void> {
  await waitFor(`${step} running`, async () => (await stepStatus(vmId, step)) === 'running', { intervalMs: 10 });
  const victim = harness.stack.installers.at(-1)!;
  await victim.kill();
  harness.stack.installers.push(await harness.stack.addInstaller());
}

/** The provisioning items' log on the VM's guest, a line each, as the trainee reads it. */
async function guestLog(vm: Record<string, unknown>): Promise<string[]> {
  const ssh = new SshPool();
  try {
    const log = await ssh.exec(
      {
        host: String(vm.ip),
        port: harness.sim.info.guestSshPort,
        username: 'trainee',
        privateKey: harness.userKey.privateKey,
        hostKey: { kind: 'tofu', store: memoryHostKeys() },
      },
      ['cat', '/var/log/gd-order.log'],
    );
    return log.stdout.trim().split('\n');
  } finally {
    ssh.close();
  }
}

async function simVmsOf(vmId: string): Promise<number[]> {
  const state = (await harness.sim.admin('GET', '/state')) as {
    vms: Record<string, { config: Record<string, string> }>;
  };
  return Object.entries(state.vms)
    .filter(([, vm]) => String(vm.config.description ?? '').includes(vmId))
    .map(([vmid]) => Number(vmid));
}

test('kill -9 mid-clone: the job resumes on another installer, one VM, one lease', async () => {
  const accepted = await harness.api('POST', '/api/v1/vms', { name: 'crash-clone', os: 'ubuntu-22.04' });
  assert.equal(accepted.status, 202);
  const vmId = String(accepted.body.id);
  await crashDuring(vmId, 'clone');
  const vm = await harness.waitForVm(vmId, ['ready', 'failed'], 120_000);
  assert.equal(vm.status, 'ready', `VM failed: ${vm.error}`);
  assert.deepEqual(await simVmsOf(vmId), [vm.vmid], 'exactly one VM in the cluster');
  const leases = await db.selectFrom('vmid_leases').select(['vmid', 'owner']).execute();
  assert.deepEqual(leases, [{ vmid: vm.vmid, owner: vmId }], 'exactly one lease, held by this VM');
});

test('kill -9 mid-post-configuration: every provisioning item ran exactly once', async () => {
  const items = 40;
  const accepted = await harness.api('POST', '/api/v1/vms', {
    name: 'crash-provision',
    os: 'ubuntu-22.04',
    cloudInit: { user: 'trainee', sshKeys: [harness.userKey.publicKey] },
    provision: Array.from({ length: items }, (_, n) => ({ run: `echo item-${n} >> /var/log/gd-order.log` })),
  });
  assert.equal(accepted.status, 202);
  const vmId = String(accepted.body.id);
  await crashDuring(vmId, 'post-configure');
  const vm = await harness.waitForVm(vmId, ['ready', 'failed'], 120_000);
  assert.equal(vm.status, 'ready', `VM failed: ${vm.error}`);
  const steps = vm.steps as { name: string; attempts: number }[];
  assert.ok(steps.find((s) => s.name === 'post-configure')!.attempts >= 2, 'post-configuration was resumed');

  assert.deepEqual(
    await guestLog(vm),
    Array.from({ length: items }, (_, n) => `item-${n}`),
  );
  assert.deepEqual(await simVmsOf(vmId), [vm.vmid]);
});

test("kill -9 in a lab VM's configure run in its provision's job: the configure runs to the end once", async () => {
  const items = 40;
  const accepted = await harness.api('POST', '/api/v1/labs', {
    name: 'crash-inline',
    networks: [{ name: 'lan', cidr: '10.30.0.0/24' }],
    vms: [
      {
        name: 'web',
        os: 'ubuntu-22.04',
        networks: ['lan'],
        cloudInit: { user: 'trainee', sshKeys: [harness.userKey.publicKey] },
        provision: Array.from({ length: items }, (_, n) => ({ run: `echo item-${n} >> /var/log/gd-order.log` })),
      },
    ],
  });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const labId = String(accepted.body.id);
  const vmId = await waitFor('the lab VM', async () => {
    const row = await db.selectFrom('vms').select('id').where('lab_id', '=', labId).executeTakeFirst();
    return row?.id;
  });
  const producer = await Producer.open(harness.redis.url, harness.redis.prefix);
  try {
    const configureJob = () => producer.queues.lab.getJob(labJobId(labId, 'c0:vm:web:configure'));
    // The configure runs in the provision's job: no job of its own before the crash.
    await waitFor('post-configure running', async () => (await stepStatus(vmId, 'post-configure')) === 'running', {
      intervalMs: 10,
    });
    assert.equal(await configureJob(), undefined, 'the configure runs without a job of its own');
    await crashDuring(vmId, 'post-configure');

    const lab = await harness.waitForLab(String(labId), 120_000);
    assert.equal(lab.status, 'ready', String(lab.error));
    // The provision's job, started again, found its task done and the configure ready: it added the
    // configure's job, which resumed post-configuration where the killed process left it.
    assert.ok(await configureJob(), 'the restarted provision job added the configure as its own job');
    const tasks = await db
      .selectFrom('steps')
      .select(['name', 'status'])
      .where('lab_id', '=', labId)
      .where('vm_id', 'is', null)
      .orderBy('name')
      .execute();
    assert.deepEqual(
      tasks.filter((t) => t.name.startsWith('c0:vm:')),
      [
        { name: 'c0:vm:web:configure', status: 'done' },
        { name: 'c0:vm:web:provision', status: 'done' },
      ],
    );
    const vm = await harness.waitForVm(vmId, ['ready', 'failed'], 10_000);
    const steps = vm.steps as { name: string; attempts: number }[];
    assert.ok(steps.find((s) => s.name === 'post-configure')!.attempts >= 2, 'post-configuration was resumed');
    assert.deepEqual(
      await guestLog(vm),
      Array.from({ length: items }, (_, n) => `item-${n}`),
    );
    assert.deepEqual(await simVmsOf(vmId), [vm.vmid]);
  } finally {
    await producer.close();
  }
});
