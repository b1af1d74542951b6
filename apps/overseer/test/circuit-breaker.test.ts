import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import { ATTEMPT_FAILED, BREAKER_OPENED } from '../src/remediation-history';
import { countEvents, type Harness, liveAlerts, startHarness } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness('breaker');
});
after(() => h?.stop());

test('a VM that fails to restart three times trips the breaker and stops being retried', async () => {
  const vmid = await h.addSimVm({ start: false });
  const { vmId } = await h.seedLabVm(vmid, 'stuck');
  await h.resourcesShow('the VM stopped', (vms) => vms.get(vmid)?.status === 'stopped');
  await h.sim.admin('POST', '/faults', { failTasks: { type: 'qmstart', count: 1000 } });

  for (let attempt = 1; attempt <= 3; attempt++) {
    const scan = await h.scan();
    assert.equal(scan?.remediations, 1, `scan ${attempt} enqueues attempt ${attempt}`);
    await waitFor(`failed attempt ${attempt}`, async () => (await countEvents(h.db, ATTEMPT_FAILED, vmId)) === attempt);
  }
  const tripped = await h.scan();
  assert.equal(tripped?.remediations, 0);
  assert.deepEqual(
    (await liveAlerts(h.db)).map((a) => [a.kind, a.severity, a.subject]),
    [
      ['remediation-breaker', 'critical', `vm/${vmId}`],
      ['vm-stopped', 'warning', `vm/${vmId}`],
    ],
  );
  const again = await h.scan();
  assert.equal(again?.remediations, 0, 'an open breaker stays open');
  assert.equal(await countEvents(h.db, ATTEMPT_FAILED, vmId), 3);
  assert.equal(await countEvents(h.db, BREAKER_OPENED, vmId), 1, 'the trip is on the timeline once');
  assert.equal((await h.ctx.pve.vms.status(vmid)).status, 'stopped');

  // Started by hand: the condition clears, and its breaker alert with it.
  await h.sim.admin('POST', '/faults', { failTasks: null });
  await h.ctx.pve.waitForTask(await h.ctx.pve.vms.start(vmid));
  await h.resourcesShow('the VM running', (vms) => vms.get(vmid)?.status === 'running');
  const cleared = await h.scan();
  assert.equal(cleared?.resolved, 2);
  assert.deepEqual(await liveAlerts(h.db), []);
});
