/**
 * Remediations are keyed by the finding's occurrence and judged by their effect: the same VM stopped
 * a second time is restarted again, and a reboot that "succeeds" while the VM's SSH stays dead stops
 * being retried once the breaker's limit is reached, instead of rebooting it every scan.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort, waitFor } from '@glassdome/testkit';
import { ATTEMPT_SUCCEEDED, BREAKER_OPENED } from '../src/remediation-history';
import { countEvents, type Harness, liveAlerts, startHarness } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness('occurrences');
});
after(() => h?.stop());

async function stopAndScan(vmid: number) {
  await h.sim.admin('POST', `/vms/${vmid}/stop`);
  await h.resourcesShow('the VM stopped', (vms) => vms.get(vmid)?.status === 'stopped');
  return h.scan();
}

test('a VM stopped a second time is restarted a second time', async () => {
  const vmid = await h.addSimVm();
  const { vmId } = await h.seedLabVm(vmid, 'twice');
  await h.resourcesShow('the VM running', (vms) => vms.get(vmid)?.status === 'running');

  for (let occurrence = 1; occurrence <= 2; occurrence++) {
    const detected = await stopAndScan(vmid);
    assert.equal(detected?.remediations, 1, `occurrence ${occurrence} is remediated`);
    await waitFor(
      `restart ${occurrence}`,
      async () => (await countEvents(h.db, ATTEMPT_SUCCEEDED, vmId)) === occurrence,
    );
    assert.equal((await h.ctx.pve.vms.status(vmid)).status, 'running', `running after occurrence ${occurrence}`);
    await h.resourcesShow('the VM running again', (vms) => vms.get(vmid)?.status === 'running');
    const cleared = await h.scan();
    assert.equal(cleared?.resolved, 1, `occurrence ${occurrence} resolves its alert`);
  }
  const jobs = await h.ctx.producer.queues.overseer.getJobs(['completed']);
  const ids = jobs.filter((job) => job.name === 'overseer.remediate').map((job) => job.id);
  assert.equal(new Set(ids).size, 2, `two distinct remediation jobs: ${ids.join(', ')}`);
});

test('reboots that leave the SSH dead count as failures: the breaker opens instead of a reboot loop', async () => {
  const vmid = await h.addSimVm();
  const { vmId } = await h.seedLabVm(vmid, 'deaf');
  await h.resourcesShow('the VM running', (vms) => vms.get(vmid)?.status === 'running');
  // Nothing listens on this port: to the probe the guest's sshd stays dead, whatever the reboots do.
  h.ctx.settings.sshProbePort = await freePort();
  const rebootsOf = () => countEvents(h.db, ATTEMPT_SUCCEEDED, vmId);
  try {
    for (let scan = 1; scan <= 8; scan++) {
      const before = await rebootsOf();
      const result = await h.scan();
      if (result?.remediations) await waitFor(`reboot after scan ${scan}`, async () => (await rebootsOf()) > before);
    }
    // Each reboot "succeeded" as a Proxmox task, but no scan after it saw the SSH back.
    assert.equal(await rebootsOf(), 3, 'stopped after the policy allows (maxAttempts = 3)');
    assert.equal(await countEvents(h.db, BREAKER_OPENED, vmId), 1);
    const kinds = (await liveAlerts(h.db)).filter((a) => a.subject === `vm/${vmId}`).map((a) => a.kind);
    assert.deepEqual(kinds, ['remediation-breaker', 'vm-ssh-dead']);
  } finally {
    h.ctx.settings.sshProbePort = undefined;
  }
});
