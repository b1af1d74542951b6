/** The /_sim admin endpoint: faults, reset, snapshots, direct manipulations, bulk VMs. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cloneTemplate, startTestSim } from './helpers';

test('the admin endpoint needs the admin secret', async () => {
  const sim = await startTestSim();
  try {
    const res = await fetch(`${sim.running.adminUrl}/state`);
    assert.equal(res.status, 401);
    const wrong = await fetch(`${sim.running.adminUrl}/state`, { headers: { Authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
  } finally {
    await sim.stop();
  }
});

test('the state dump hides secrets', async () => {
  const sim = await startTestSim();
  try {
    const dump = await sim.admin('GET', '/state');
    assert.equal(dump.status, 200);
    const text = JSON.stringify(dump.body);
    assert.ok(!text.includes(sim.running.tokenSecret));
    assert.ok(!text.includes('root-secret-pw'));
    assert.ok(text.includes('"vmid":9000'));
  } finally {
    await sim.stop();
  }
});

test('fault injection: 500s, 595s, offline nodes and a silent agent switch on and off at run time', async () => {
  const sim = await startTestSim();
  try {
    assert.equal((await sim.admin('POST', '/faults', { rate500: 1 })).status, 200);
    const failing = await sim.api('GET', '/version');
    assert.equal(failing.status, 500);
    await sim.admin('POST', '/faults', { rate500: 0, rate595: 1 });
    assert.equal((await sim.api('GET', '/version')).status, 595);
    await sim.admin('POST', '/faults', { rate595: 0, nodeOffline: 'pve01' });
    const offline = await sim.api('GET', '/nodes/pve01/qemu');
    assert.equal(offline.status, 595);
    const nodes = (await sim.api('GET', '/nodes')).body?.data as Array<{ status: string }>;
    assert.equal(nodes[0]!.status, 'offline');
    await sim.admin('POST', '/faults', { nodeOffline: null, agentNeverUp: 'all' });
    assert.equal(await cloneTemplate(sim, 300), 'OK');
    const start = await sim.api('POST', '/nodes/pve01/qemu/300/status/start');
    assert.equal(await sim.waitTask(start.body?.data), 'OK');
    await new Promise((resolve) => setTimeout(resolve, 150));
    const agent = await sim.api('GET', '/nodes/pve01/qemu/300/agent/network-get-interfaces');
    assert.equal(agent.statusText, 'QEMU guest agent is not running');
    const bad = await sim.admin('POST', '/faults', { rate500: 7 });
    assert.equal(bad.status, 400);
  } finally {
    await sim.stop();
  }
});

test('a VM stopped or deleted behind the API is seen by the API', async () => {
  const sim = await startTestSim();
  try {
    assert.equal(await cloneTemplate(sim, 310), 'OK');
    const start = await sim.api('POST', '/nodes/pve01/qemu/310/status/start');
    assert.equal(await sim.waitTask(start.body?.data), 'OK');
    const downs: number[] = [];
    sim.running.sim.on('guest-down', (guest) => downs.push(guest.vmid));
    assert.equal((await sim.admin('POST', '/vms/310/stop')).status, 200);
    const status = (await sim.api('GET', '/nodes/pve01/qemu/310/status/current')).body?.data as { status: string };
    assert.equal(status.status, 'stopped');
    assert.deepEqual(downs, [310]);
    assert.equal((await sim.admin('DELETE', '/vms/310')).status, 200);
    assert.equal((await sim.api('GET', '/nodes/pve01/qemu/310/config')).status, 500);
  } finally {
    await sim.stop();
  }
});

test('reset restores the default cluster; save and load round-trip the state', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pve-sim-'));
  const sim = await startTestSim();
  try {
    assert.equal(await cloneTemplate(sim, 320), 'OK');
    sim.running.sim.recordGuestEffect(320, { command: 'apt-get install -y apache2' });
    const file = join(dir, 'state.json');
    assert.equal((await sim.admin('POST', '/save', { file })).status, 200);
    assert.equal((await sim.admin('POST', '/reset')).status, 200);
    assert.equal((await sim.api('GET', '/nodes/pve01/qemu/320/config')).status, 500);
    assert.deepEqual((await sim.admin('GET', '/guest-effects')).body, {});
    assert.equal((await sim.admin('POST', '/load', { file })).status, 200);
    const config = (await sim.api('GET', '/nodes/pve01/qemu/320/config')).body?.data as { name: string };
    assert.equal(config.name, 'Copy-of-VM-ubuntu-2204-tmpl');
    assert.deepEqual((await sim.admin('GET', '/guest-effects?vmid=320')).body, [
      { command: 'apt-get install -y apache2' },
    ]);
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('bulk VMs appear in lists and resources', async () => {
  const sim = await startTestSim({ latencies: { resourcesLag: 0 } });
  try {
    const bulk = await sim.admin('POST', '/bulk-vms', { count: 50 });
    assert.deepEqual(bulk.body, { created: 50, first: 100, last: 149 });
    const root = await sim.rootAuth();
    const list = (await sim.api('GET', '/nodes/pve01/qemu', {}, root)).body?.data as unknown[];
    assert.equal(list.length, 51);
    const resources = (await sim.api('GET', '/cluster/resources', { type: 'vm' }, root)).body?.data as Array<{
      status: string;
    }>;
    assert.equal(resources.filter((r) => r.status === 'stopped').length, 51);
    assert.equal((await sim.api('GET', '/cluster/nextid')).body?.data, '150');
  } finally {
    await sim.stop();
  }
});
