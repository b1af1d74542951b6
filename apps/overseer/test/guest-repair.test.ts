import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort, waitFor } from '@glassdome/testkit';
import { ATTEMPT_SUCCEEDED } from '../src/remediation-history';
import { countEvents, type Harness, liveAlerts, startHarness, testSettings } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness('guest-repair', testSettings({ noIpAfterSeconds: 0 }));
});
after(() => h?.stop());

test('a running VM without an IP gets its address from the guest agent again', async () => {
  const vmid = await h.addSimVm();
  const { vmId } = await h.seedLabVm(vmid, 'quiet');
  await h.db.updateTable('vms').set({ ip: null }).where('id', '=', vmId).execute();
  await h.resourcesShow('the VM up for a second', (vms) => (vms.get(vmid)?.uptimeSeconds ?? 0) > 0);
  const scan = await h.scan();
  assert.deepEqual(
    (await liveAlerts(h.db)).map((a) => [a.kind, a.subject]),
    [['vm-no-ip', `vm/${vmId}`]],
  );
  assert.equal(scan?.remediations, 1);
  await waitFor('rewait-agent', async () => (await countEvents(h.db, ATTEMPT_SUCCEEDED, vmId)) === 1);
  const vm = await h.db.selectFrom('vms').select('ip').where('id', '=', vmId).executeTakeFirstOrThrow();
  assert.match(vm.ip ?? '', /^\d+\.\d+\.\d+\.\d+$/);
  await h.scan();
  assert.deepEqual(await liveAlerts(h.db), []);
});

test('a VM whose SSH does not answer is rebooted', async () => {
  const vmid = await h.addSimVm();
  const { vmId } = await h.seedLabVm(vmid, 'mute');
  await h.resourcesShow('the VM running', (vms) => vms.get(vmid)?.status === 'running');
  // Nothing listens on this port: to the probe, every guest's sshd is dead.
  h.ctx.settings.sshProbePort = await freePort();
  try {
    await h.scan();
    const dead = (await liveAlerts(h.db)).filter((a) => a.kind === 'vm-ssh-dead').map((a) => a.subject);
    assert.ok(dead.includes(`vm/${vmId}`));
    await waitFor('reboot-vm', async () => {
      const rows = await h.db
        .selectFrom('events')
        .select('message')
        .where('vm_id', '=', vmId)
        .where('kind', '=', ATTEMPT_SUCCEEDED)
        .execute();
      return rows.some((row) => row.message.startsWith(`reboot-vm succeeded: rebooted VM ${vmid}`));
    });
  } finally {
    h.ctx.settings.sshProbePort = undefined;
  }
});

test('with destroy-orphan enabled, an orphan past its grace period is destroyed', async () => {
  const saved = h.ctx.settings.policy;
  h.ctx.settings.policy = { ...saved, enabled: new Set([...saved.enabled, 'destroy-orphan']), orphanGraceMs: 0 };
  try {
    const vmid = await h.addSimVm({ tags: ['glassdome'] });
    await h.resourcesShow('the orphan with its tag', (vms) => vms.get(vmid)?.tags.includes('glassdome') === true);
    await h.scan();
    await waitFor('destroy-orphan', async () => {
      const rows = await h.db.selectFrom('events').select('message').where('kind', '=', ATTEMPT_SUCCEEDED).execute();
      return rows.some((row) => row.message.startsWith(`destroy-orphan succeeded: destroyed orphan VM ${vmid}`));
    });
    await assert.rejects(h.ctx.pve.vms.status(vmid), /does not exist|not found|no such/i);
    await h.resourcesShow('the orphan gone', (vms) => !vms.has(vmid));
    await h.scan();
    assert.ok((await liveAlerts(h.db)).every((alert) => alert.kind !== 'orphan-vm'));
  } finally {
    h.ctx.settings.policy = saved;
  }
});
