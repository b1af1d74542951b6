/** 200 concurrent API requests against a cluster of 1,000 VMs, all answered without errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestSim } from './helpers';

test('200 concurrent requests over 1,000 VMs all succeed', async () => {
  // A slower clock than other tests: serving 1,000-VM lists keeps the event loop busy, and lock
  // timeouts measured in a few real milliseconds would then fail for reasons real PVE does not have.
  const sim = await startTestSim({ timeScale: 0.1 });
  try {
    const bulk = await sim.admin('POST', '/bulk-vms', { count: 1000, start: true });
    assert.equal((bulk.body as { created: number }).created, 1000);
    const root = await sim.rootAuth();
    const calls = Array.from({ length: 200 }, (_, i) => {
      const vmid = String(100 + ((i * 7) % 1000));
      if (i % 40 === 39)
        return sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: String(2000 + i), name: `load-${i}` });
      // Mostly per-VM calls, with a few full lists and resource scans of all 1,000 VMs in the mix.
      if (i % 20 === 0) return sim.api('GET', '/nodes/pve01/qemu', {}, root);
      if (i % 20 === 10) return sim.api('GET', '/cluster/resources', { type: 'vm' }, root);
      switch (i % 3) {
        case 0:
          return sim.api('GET', `/nodes/pve01/qemu/${vmid}/status/current`, {}, root);
        case 1:
          return sim.api('GET', `/nodes/pve01/qemu/${vmid}/config`, {}, root);
        default:
          return sim.api('GET', '/cluster/nextid');
      }
    });
    const answers = await Promise.all(calls);
    const failures = answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.statusText}`);
    assert.deepEqual(failures, []);
    const list = answers[0]!.body?.data as unknown[];
    assert.equal(list.length, 1001);
    const clones = answers.filter((_, i) => i % 40 === 39);
    assert.equal(clones.length, 5);
    const exits = await Promise.all(clones.map((a) => sim.waitTask(a.body?.data)));
    assert.deepEqual(
      exits.filter((e) => e !== 'OK'),
      [],
    );
  } finally {
    await sim.stop();
  }
});
