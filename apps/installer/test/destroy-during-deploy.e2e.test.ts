import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDb, type Db } from '@glassdome/db';
import { waitFor } from '@glassdome/testkit';
import { type Harness, startHarness } from './harness';

let harness: Harness;
let db: Db;
before(async () => {
  // The clone worker starts 3 s after its POST answered (as PVE's does, later under load): a window in
  // which the new VM's id is leased and recorded but Proxmox has no config for it yet.
  harness = await startHarness({ installers: 2 }, { PVE_SIM_LATENCIES: JSON.stringify({ cloneWorkerStart: 300_000 }) });
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

/** Proxmox VMs whose description names this VM record. */
async function simVmsOf(vmId: string): Promise<number[]> {
  const state = (await harness.sim.admin('GET', '/state')) as {
    vms: Record<string, { config: Record<string, string> }>;
  };
  return Object.entries(state.vms)
    .filter(([, vm]) => String(vm.config.description ?? '').includes(vmId))
    .map(([vmid]) => Number(vmid));
}

test('DELETE while the clone is on its way: the deploy stops, the clone that lands is removed, nothing leaks', async () => {
  const accepted = await harness.api('POST', '/api/v1/vms', { name: 'doomed', os: 'ubuntu-22.04' });
  assert.equal(accepted.status, 202);
  const vmId = String(accepted.body.id);
  await waitFor('clone running', async () => (await stepStatus(vmId, 'clone')) === 'running', { intervalMs: 10 });

  const deleted = await harness.api('DELETE', `/api/v1/vms/${vmId}`);
  assert.equal(deleted.status, 202, JSON.stringify(deleted.body));
  const vm = await harness.waitForVm(vmId, ['destroyed'], 120_000);
  assert.equal(vm.status, 'destroyed');

  // Longer than the clone worker's delay: a clone the tear-down missed would have landed by now.
  await sleep(5_000);
  assert.deepEqual(await simVmsOf(vmId), [], 'no Proxmox VM of the destroyed record');
  assert.deepEqual(await db.selectFrom('vmid_leases').select(['vmid', 'owner']).execute(), [], 'no lease left');
  const after = await harness.api('GET', `/api/v1/vms/${vmId}`);
  assert.equal(after.body.status, 'destroyed', 'the row stays destroyed');
  const steps = after.body.steps as { name: string; status: string }[];
  assert.ok(
    steps.every((step) => step.status !== 'running'),
    `no step is left running: ${JSON.stringify(steps)}`,
  );
});

test('DELETE right after POST: the VM ends destroyed and nothing is left in the cluster', async () => {
  const accepted = await harness.api('POST', '/api/v1/vms', { name: 'never', os: 'ubuntu-22.04' });
  const vmId = String(accepted.body.id);
  const deleted = await harness.api('DELETE', `/api/v1/vms/${vmId}`);
  assert.equal(deleted.status, 202);
  await harness.waitForVm(vmId, ['destroyed'], 60_000);
  await sleep(4_000);
  assert.deepEqual(await simVmsOf(vmId), []);
  assert.equal((await harness.api('GET', `/api/v1/vms/${vmId}`)).body.status, 'destroyed');
});
