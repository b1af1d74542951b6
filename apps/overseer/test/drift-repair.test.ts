import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { acknowledgeAlert } from '@glassdome/db';
import { createProxmox } from '@glassdome/proxmox';
import { DEFAULT_PLATFORM } from '@glassdome/runtime';
import { freePort, waitFor } from '@glassdome/testkit';
import { ATTEMPT_SUCCEEDED } from '../src/remediation-history';
import { scanPlatform } from '../src/scan';
import { countEvents, type Harness, liveAlerts, startHarness } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness('drift');
});
after(() => h?.stop());

async function simStatus(vmid: number): Promise<string> {
  return (await h.ctx.pve.vms.status(vmid)).status;
}

test('a lab VM stopped behind our back is detected by one scan and repaired before the next', async () => {
  const vmid = await h.addSimVm();
  const { vmId } = await h.seedLabVm(vmid, 'web');
  await h.resourcesShow('the new VM running', (vms) => vms.get(vmid)?.status === 'running');
  // The simulator's template 9000 is stopped too: templates are not stopped VMs.
  const healthy = await h.scan();
  assert.equal(healthy?.findings, 0);

  await h.sim.admin('POST', `/vms/${vmid}/stop`);
  await h.resourcesShow('the VM stopped', (vms) => vms.get(vmid)?.status === 'stopped');
  const detected = await h.scan();
  assert.equal(detected?.remediations, 1);
  assert.deepEqual(
    (await liveAlerts(h.db)).map((a) => [a.kind, a.subject]),
    [['vm-stopped', `vm/${vmId}`]],
  );
  const observed = await h.db.selectFrom('vms').select('observed_status').where('id', '=', vmId).executeTakeFirst();
  assert.equal(observed?.observed_status, 'stopped');

  await waitFor('start-vm remediation', async () => (await countEvents(h.db, ATTEMPT_SUCCEEDED, vmId)) === 1);
  assert.equal(await simStatus(vmid), 'running');
  await h.resourcesShow('the VM running again', (vms) => vms.get(vmid)?.status === 'running');
  const repaired = await h.scan();
  assert.equal(repaired?.resolved, 1);
  assert.deepEqual(await liveAlerts(h.db), []);
  const event = await h.db
    .selectFrom('events')
    .select(['message', 'data'])
    .where('kind', '=', ATTEMPT_SUCCEEDED)
    .where('vm_id', '=', vmId)
    .executeTakeFirstOrThrow();
  assert.match(event.message, /start-vm succeeded: started VM \d+ .*reason: VM web .* is stopped, should run/);
});

test('a lab VM deleted behind our back raises a critical alert', async () => {
  const vmid = await h.addSimVm();
  const { vmId } = await h.seedLabVm(vmid, 'db');
  await h.sim.admin('DELETE', `/vms/${vmid}`);
  await h.resourcesShow('the VM gone', (vms) => !vms.has(vmid));
  await h.scan();
  const alerts = await liveAlerts(h.db);
  assert.deepEqual(
    alerts.map((a) => [a.kind, a.severity, a.subject]),
    [['vm-missing', 'critical', `vm/${vmId}`]],
  );
  // Seen again: the same alert, not a second one.
  await h.scan();
  assert.deepEqual(
    (await liveAlerts(h.db)).map((a) => a.id),
    alerts.map((a) => a.id),
  );
  await h.db.updateTable('vms').set({ status: 'destroyed' }).where('id', '=', vmId).execute();
  await h.scan();
});

test('a glassdome-tagged VM no record owns is reported as an orphan; other VMs are not', async () => {
  const vmid = await h.addSimVm({ tags: ['glassdome'] });
  const other = await h.addSimVm({ start: false, tags: ['other'] });
  await h.resourcesShow('both new VMs with their tags', (vms) =>
    [vmid, other].every((id) => (vms.get(id)?.tags.length ?? 0) > 0),
  );
  await h.scan();
  assert.deepEqual(
    (await liveAlerts(h.db)).map((a) => [a.kind, a.subject]),
    [['orphan-vm', `vmid/${vmid}`]],
  );
  // Orphan removal is off by default: the VM is still there.
  assert.equal(await simStatus(vmid), 'running');
  await h.ctx.pve.waitForTask(await h.ctx.pve.vms.stop(vmid));
  await h.ctx.pve.waitForTask(await h.ctx.pve.vms.destroy(vmid));
  await h.resourcesShow('the orphan gone', (vms) => !vms.has(vmid));
  await h.scan();
  assert.deepEqual(await liveAlerts(h.db), []);
});

test('a node taken offline raises a critical alert that resolves when it returns', async () => {
  await h.sim.admin('POST', '/faults', { nodeOffline: h.sim.info.node });
  await h.scan();
  assert.deepEqual(
    (await liveAlerts(h.db)).map((a) => [a.kind, a.severity, a.subject]),
    [['node-offline', 'critical', `node/${h.sim.info.node}`]],
  );
  const [alert] = await liveAlerts(h.db);
  await acknowledgeAlert(h.db, alert!.id, 'operator');
  await h.scan();
  assert.deepEqual(
    (await liveAlerts(h.db)).map((a) => [a.id, a.state]),
    [[alert!.id, 'acknowledged']],
    'seen again, an acknowledged alert stays acknowledged',
  );
  await h.sim.admin('POST', '/faults', { nodeOffline: null });
  const back = await h.scan();
  assert.equal(back?.resolved, 1);
  assert.deepEqual(await liveAlerts(h.db), []);
});

test('a lab past its TTL is handed to tear-down, once, with the reason on its timeline', async () => {
  const vmid = await h.addSimVm();
  const { labId } = await h.seedLabVm(vmid, 'expiring');
  await h.db
    .updateTable('labs')
    .set({ expires_at: new Date(Date.now() - 1_000) })
    .where('id', '=', labId)
    .execute();
  const scan = await h.scan();
  assert.equal(scan?.remediations, 1);
  await waitFor('the lab to be destroying', async () => {
    const lab = await h.db.selectFrom('labs').select('status').where('id', '=', labId).executeTakeFirst();
    return lab?.status === 'destroying';
  });
  // The tear-down job went through the outbox: one lab.destroy for this lab, with a fresh id.
  await waitFor('the tear-down job to reach Redis', async () => {
    const jobs = await h.ctx.producer.queues.lab.getJobs(['wait', 'active', 'delayed', 'completed', 'failed']);
    return jobs.filter((job) => job?.name === 'lab.destroy' && job.data.labId === labId).length === 1;
  });
  // The attempt is recorded once the action returns, which is after its relay flush: the job can be
  // in Redis a moment before the event is written.
  const succeeded = () =>
    h.db
      .selectFrom('events')
      .select('message')
      .where('lab_id', '=', labId)
      .where('kind', '=', ATTEMPT_SUCCEEDED)
      .executeTakeFirst();
  await waitFor('the attempt on the timeline', async () => (await succeeded()) !== undefined);
  assert.match((await succeeded())!.message, /expire-lab succeeded: .*reason: lab lab-expiring is past its TTL/);
  // A destroying lab is no longer expired: its alert resolves.
  await h.scan();
  assert.ok((await liveAlerts(h.db)).every((alert) => alert.kind !== 'lab-expired'));
});

test('a deploy step running past its bound is reported stuck', async () => {
  const vmid = await h.addSimVm();
  const { vmId } = await h.seedLabVm(vmid, 'slow');
  await h.db.updateTable('vms').set({ status: 'deploying' }).where('id', '=', vmId).execute();
  await h.db
    .insertInto('steps')
    .values({ vm_id: vmId, name: 'wait-agent', status: 'running', started_at: new Date(Date.now() - 2 * 3600_000) })
    .execute();
  await h.scan();
  const stuck = (await liveAlerts(h.db)).filter((alert) => alert.kind === 'deploy-stuck');
  assert.deepEqual(
    stuck.map((alert) => alert.subject),
    [`vm/${vmId}/step/wait-agent`],
  );
});

test('a platform whose API cannot be read raises a critical alert, resolved by the next good scan', async () => {
  const unreachable = createProxmox({
    baseUrl: `http://127.0.0.1:${await freePort()}`,
    node: h.sim.info.node,
    auth: { tokenId: h.sim.info.tokenId, tokenSecret: h.sim.info.tokenSecret },
    retry: { attempts: 1 },
  });
  try {
    await assert.rejects(scanPlatform({ ...h.ctx, pve: unreachable }, DEFAULT_PLATFORM));
  } finally {
    unreachable.close();
  }
  const alerts = await h.db
    .selectFrom('alerts')
    .selectAll()
    .where('state', '<>', 'resolved')
    .where('kind', '=', 'platform-unreachable')
    .execute();
  assert.deepEqual(
    alerts.map((a) => [a.kind, a.severity, a.subject]),
    [['platform-unreachable', 'critical', `platform/${DEFAULT_PLATFORM}`]],
  );
  assert.ok(!JSON.stringify(alerts).includes(h.sim.info.tokenSecret), 'no secret in the alert');
  const back = await h.scan();
  assert.ok((back?.resolved ?? 0) >= 1);
  assert.ok((await liveAlerts(h.db)).every((alert) => alert.kind !== 'platform-unreachable'));
});
