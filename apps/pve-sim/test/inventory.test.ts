/** Nodes, storages, networks, pools, SDN, background config updates and task control (resize: disk-resize.test.ts). */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cloneTemplate, startTestSim, type TestSim } from './helpers';

let sim: TestSim;
let root: Record<string, string>;
before(async () => {
  sim = await startTestSim({ nodes: ['pve01', 'pve02'] });
  root = await sim.rootAuth();
});
after(() => sim.stop());

test('nodes list with fingerprint field and stats only where Sys.Audit is held', async () => {
  const nodes = (await sim.api('GET', '/nodes')).body?.data as Array<Record<string, unknown>>;
  const pve01 = nodes.find((n) => n.node === 'pve01')!;
  const pve02 = nodes.find((n) => n.node === 'pve02')!;
  assert.equal(pve01.status, 'online');
  assert.equal(pve01.id, 'node/pve01');
  assert.equal(typeof pve01.maxmem, 'number');
  assert.equal(pve02.maxmem, undefined, 'the deploy token has Sys.Audit on pve01 only');
  const cluster = (await sim.api('GET', '/cluster/status', {}, root)).body?.data as Array<{ type: string }>;
  assert.deepEqual(cluster.map((c) => c.type).sort(), ['cluster', 'node', 'node']);
});

test('storages filter by permission and report PVE fields; unknown storage is a 400', async () => {
  const token = (await sim.api('GET', '/nodes/pve01/storage')).body?.data as Array<Record<string, unknown>>;
  assert.deepEqual(
    token.map((s) => s.storage),
    ['local-lvm'],
  );
  const all = (await sim.api('GET', '/nodes/pve01/storage', {}, root)).body?.data as Array<Record<string, unknown>>;
  assert.deepEqual(all.map((s) => s.storage).sort(), ['local', 'local-lvm']);
  const lvm = all.find((s) => s.storage === 'local-lvm')!;
  assert.equal(lvm.type, 'lvmthin');
  assert.equal(lvm.active, 1);
  assert.equal(lvm.shared, 0);
  assert.equal(Number(lvm.total) - Number(lvm.used), lvm.avail);
  const missing = await sim.api('GET', '/nodes/pve01/storage', { storage: 'nope' });
  assert.deepEqual(missing.body?.errors, { storage: 'No such storage.' });
  const content = (await sim.api('GET', '/nodes/pve01/storage/local-lvm/content', { vmid: '9000' })).body
    ?.data as Array<{ volid: string }>;
  assert.deepEqual(content.map((c) => c.volid).sort(), ['local-lvm:base-9000-disk-0', 'local-lvm:vm-9000-cloudinit']);
});

test('the bridge is VLAN-aware and typed as PVE sends it', async () => {
  const net = (await sim.api('GET', '/nodes/pve01/network')).body?.data as Array<Record<string, unknown>>;
  assert.equal(net.length, 1);
  assert.equal(net[0]!.iface, 'vmbr0');
  assert.equal(net[0]!.bridge_vlan_aware, 1);
  assert.equal(net[0]!.bridge_fd, '0');
  assert.equal(net[0]!.netmask, '24');
});

test('SDN vnets can be created by root and used as a bridge only with SDN.Use on their zone', async () => {
  assert.equal(
    (await sim.api('POST', '/cluster/sdn/zones', { zone: 'labs', type: 'vlan', bridge: 'vmbr0' }, root)).status,
    200,
  );
  assert.equal(
    (await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'lab1', zone: 'labs', tag: '101' }, root)).status,
    200,
  );
  const apply = await sim.api('PUT', '/cluster/sdn', {}, root);
  assert.equal(await sim.waitTask(apply.body?.data, root), 'OK');
  const vnets = (await sim.api('GET', '/cluster/sdn/vnets', {}, root)).body?.data as Array<Record<string, unknown>>;
  assert.deepEqual(
    vnets.map((v) => [v.vnet, v.zone, v.tag]),
    [['lab1', 'labs', 101]],
  );
  assert.equal(await cloneTemplate(sim, 400), 'OK');
  const denied = await sim.api('PUT', '/nodes/pve01/qemu/400/config', { net1: 'virtio,bridge=lab1' });
  assert.equal(denied.statusText, 'Permission check failed (/sdn/zones/labs/lab1, SDN.Use)');
  await sim.api(
    'PUT',
    '/access/acl',
    { path: '/sdn/zones/labs', roles: 'PVESDNUser', users: 'glassdome@pve', tokens: 'glassdome@pve!deploy' },
    root,
  );
  assert.equal((await sim.api('PUT', '/nodes/pve01/qemu/400/config', { net1: 'virtio,bridge=lab1' })).status, 200);
});

test('pools group VMs and grant through /pool paths', async () => {
  assert.equal((await sim.api('POST', '/pools', { poolid: 'class1', comment: 'Class 1' }, root)).status, 200);
  const dup = await sim.api('POST', '/pools', { poolid: 'class1' }, root);
  assert.equal(dup.statusText, "create pool failed: pool 'class1' already exists");
  assert.equal((await sim.api('PUT', '/pools/class1', { vms: '400' }, root)).status, 200);
  const pool = (await sim.api('GET', '/pools/class1', {}, root)).body?.data as {
    members: Array<{ vmid: number }>;
    comment: string;
  };
  assert.deepEqual(
    pool.members.map((m) => m.vmid),
    [400],
  );
  const notEmpty = await sim.api('DELETE', '/pools/class1', {}, root);
  assert.equal(notEmpty.statusText, "delete pool failed: pool 'class1' is not empty");
  const missingPool = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '401', pool: 'nope' });
  assert.equal(missingPool.statusText, "pool 'nope' does not exist");
});

test('config POST with background_delay answers null once the task has finished', async () => {
  const answer = await sim.api('POST', '/nodes/pve01/qemu/400/config', { description: 'ready', background_delay: '5' });
  assert.equal(answer.status, 200);
  assert.equal(answer.body?.data, null);
});

test('a slow task can be stopped through DELETE on its UPID', async () => {
  await sim.admin('POST', '/faults', { slowTaskFactor: 1000 });
  const start = await sim.api('POST', '/nodes/pve01/qemu/400/status/start');
  const upid = encodeURIComponent(String(start.body?.data));
  const status = (await sim.api('GET', `/nodes/pve01/tasks/${upid}/status`)).body?.data as { status: string };
  assert.equal(status.status, 'running');
  assert.equal((await sim.api('DELETE', `/nodes/pve01/tasks/${upid}`)).status, 200);
  assert.notEqual(await sim.waitTask(start.body?.data), 'OK');
  await sim.admin('POST', '/faults', { slowTaskFactor: 1 });
  const wrongNode = await sim.api('GET', `/nodes/pve02/tasks/${upid}/status`, {}, root);
  assert.deepEqual(wrongNode.body?.errors, { upid: 'no such task' });
});
