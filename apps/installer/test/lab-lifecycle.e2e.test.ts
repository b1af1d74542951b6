/**
 * A lab's life, edited end to end on the simulator (issue 16): a TTL extension moves `expiresAt` and
 * the overseer honours it (a shortened one tears the lab down), testing mode ends by its own timer,
 * and a cancelled lab leaves no VM deploying, keeping or deleting its VMs as asked.
 *
 * A TTL and a testing mode both last at least a minute (durations are whole minutes), so the two tests
 * that wait one out run at once, each on labs of its own: the file waits out one minute, not two.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import { type Harness, startHarness } from './harness';
import { type Lab, labClient } from './lab-client';

let harness: Harness;
before(async () => {
  harness = await startHarness({
    installers: 2,
    overseer: true,
    env: { ISOLATION_CHECK_SECONDS: '20', OVERSEER_SCAN_SECONDS: '2', API_RATE_LIMIT: '100000' },
  });
});
after(async () => {
  close();
  await harness?.stop();
});

const { spec, labOf, settled, deploy, operationDone, sh, eventsOf, close } = labClient(() => harness);

describe('a minute waited out once', { concurrency: true }, () => {
  test('a TTL extension moves expiresAt and the overseer honours it; a shortened TTL tears the lab down', async () => {
    // Two labs, so that the minute one waits out overlaps the minute the other does (a TTL is at least a
    // minute): the first is deployed for a minute and extended, the second deployed for two hours and
    // shortened to a minute.
    const shortLived = await deploy({ ...spec('short-lived'), ttl: '1m', vms: [spec('x').vms[0]] });
    const cutShort = await deploy({ ...spec('cut-short'), ttl: '2h', vms: [spec('y').vms[0]] });
    const before = await settled(shortLived);
    assert.equal(before.status, 'ready', before.error);
    const extended = await harness.api('PATCH', `/api/v1/labs/${shortLived}`, { ttl: '2h' });
    assert.equal(extended.status, 200, JSON.stringify(extended.body));
    assert.ok(Date.parse(String(extended.body.expiresAt)) > Date.now() + 3600_000, 'expiresAt moved two hours out');
    const tooLong = await harness.api('PATCH', `/api/v1/labs/${shortLived}`, { ttl: '900d' });
    assert.equal(tooLong.status, 422, JSON.stringify(tooLong.body));
    assert.match(JSON.stringify(tooLong.body), /maxLabTtlSeconds/);

    const longLived = await settled(cutShort);
    assert.equal(longLived.status, 'ready', longLived.error);
    const shortened = await harness.api('PATCH', `/api/v1/labs/${cutShort}`, { ttl: '1m' });
    assert.equal(shortened.status, 200, JSON.stringify(shortened.body));
    assert.ok(Date.parse(String(shortened.body.expiresAt)) < Date.now() + 61_000, 'expiresAt moved to a minute out');

    // The first TTL (1 minute from its deploy) runs out; the overseer scans every 2 s and must leave it.
    const deployedAt = Date.parse(String((await harness.api('GET', `/api/v1/labs/${shortLived}`)).body.createdAt));
    const waitMs = deployedAt + 60_000 + 6_000 - Date.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    assert.equal((await labOf(shortLived)).status, 'ready', 'the extended lab outlived its first TTL');

    await settled(cutShort, ['destroying', 'destroyed'], 120_000);
  });

  test('testing mode ends by itself when its time is up', async () => {
    const id = await deploy(spec('timed-testing'));
    const lab = await settled(id);
    assert.equal(lab.status, 'ready', lab.error);
    const box = lab.vms.find((vm) => vm.name === 'box')!;
    const outside = 'curl -s -m 3 -o /dev/null http://203.0.113.10/ && echo reached || echo blocked';
    assert.equal((await sh(box, outside)).out, 'blocked', 'the spec allows no egress');
    const started = await harness.api('POST', `/api/v1/labs/${id}/testing`, {
      egress: ['203.0.113.10:80'],
      duration: '1m',
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const on = await operationDone(id, String(started.body.operationId));
    assert.equal(on.status, 'done', on.error ?? '');
    const state = (await harness.api('GET', `/api/v1/labs/${id}/testing`)).body.testing as { until: string };
    assert.ok(state, 'testing mode is on');
    await waitFor('egress open', async () => (await sh(box, outside)).out === 'reached', {
      timeoutMs: 60_000,
      intervalMs: 1_000,
    });
    // Nobody asks for the end: the delayed job restores the policy at `until`.
    await waitFor(
      'testing mode over by its timer',
      async () => (await harness.api('GET', `/api/v1/labs/${id}/testing`)).body.testing === null,
      { timeoutMs: 180_000, intervalMs: 1_000 },
    );
    assert.ok(Date.now() >= Date.parse(state.until), 'not before its time');
    await waitFor('egress closed again', async () => (await sh(box, outside)).out === 'blocked', {
      timeoutMs: 60_000,
      intervalMs: 1_000,
    });
    const events = await eventsOf(id);
    assert.equal(
      events.filter((event) => event.kind === 'lab.testing.stopped').length,
      1,
      'stopped once, by the timer',
    );
    assert.equal((await labOf(id)).status, 'ready');
  });
});

test('a cancelled lab leaves no VM deploying; its VMs are kept or deleted as asked', async () => {
  const inFlight = (lab: Lab) => lab.vms.filter((vm) => ['queued', 'deploying'].includes(vm.status));
  // Cancelled while its VMs are deploying: as soon as one is (a whole lab here can be ready in under
  // two seconds, so a fixed pause could find it done and the cancel refused).
  const whileDeploying = (id: string) =>
    waitFor(
      `lab ${id} to have a VM deploying`,
      async () => {
        const lab = await labOf(id);
        return lab.vms.some((vm) => vm.status === 'deploying') ? lab : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
  const kept = await deploy({ ...spec('cancel-keep'), copies: 2 });
  await whileDeploying(kept);
  const keep = await harness.api('POST', `/api/v1/labs/${kept}/cancel`);
  assert.equal(keep.status, 202, JSON.stringify(keep.body));
  const dropped = await deploy({ ...spec('cancel-drop'), copies: 2 });
  await whileDeploying(dropped);
  const drop = await harness.api('POST', `/api/v1/labs/${dropped}/cancel?destroyVms=true`);
  assert.equal(drop.status, 202, JSON.stringify(drop.body));
  assert.equal(drop.body.vms, 'destroying');

  // Right away and after the tasks in flight had time to stop: nothing left deploying.
  for (const id of [kept, dropped]) assert.deepEqual(inFlight(await labOf(id)), [], `lab ${id} at once`);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const keptLab = await labOf(kept);
  assert.equal(keptLab.status, 'cancelled');
  assert.deepEqual(inFlight(keptLab), []);
  assert.ok(
    keptLab.vms.every((vm) => ['cancelled', 'ready'].includes(vm.status)),
    JSON.stringify(keptLab.vms.map((vm) => vm.status)),
  );
  const droppedLab = await waitFor(
    'the dropped lab’s VMs deleted',
    async () => {
      const current = await labOf(dropped);
      return current.vms.every((vm) => vm.status === 'destroyed') ? current : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  assert.equal(droppedLab.status, 'cancelled', 'the lab itself stays cancelled');

  // On the cluster: the dropped lab's VMs are gone (a clone that landed after the cancel too); the
  // kept lab's VMs that were up are still there for inspection.
  await waitFor('no VM of the dropped lab left in Proxmox', async () => (await clusterVmsOf(dropped)).length === 0, {
    timeoutMs: 120_000,
    intervalMs: 1_000,
  });
  const keptIds = new Set((await clusterVmsOf(kept)).map((vm) => vm.vmid));
  for (const vm of keptLab.vms) {
    const vmid = (await harness.api('GET', `/api/v1/vms/${vm.id}`)).body.vmid as number | null;
    if (vmid !== null && vm.status === 'ready') assert.ok(keptIds.has(vmid), `${vm.name} (${vmid}) kept in Proxmox`);
  }
});

/** The simulator's VMs of a lab (Glassdome names them gd-<lab id prefix>-c<copy>-<vm>). */
async function clusterVmsOf(labId: string): Promise<{ vmid: number; name: string }[]> {
  const state = (await harness.sim.admin('GET', '/state')) as {
    vms: Record<string, { vmid: number; config: { name?: string } }>;
  };
  return Object.values(state.vms)
    .filter((vm) => vm.config.name?.startsWith(`gd-${labId.slice(0, 8)}-`))
    .map((vm) => ({ vmid: vm.vmid, name: vm.config.name! }));
}
