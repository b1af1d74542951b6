/** SDN through the API: edits stay pending until `PUT /cluster/sdn`, and only applied vnets carry VM NICs. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cloneTemplate, startTestSim, type TestSim } from './helpers';

let sim: TestSim;
let root: Record<string, string>;
before(async () => {
  sim = await startTestSim();
  root = await sim.rootAuth();
});
after(() => sim.stop());

const rows = (answer: { body?: { data?: unknown } }) => answer.body?.data as Array<Record<string, unknown>>;

test('zones: type options are checked, a VLAN zone needs its bridge, the deploy token may not allocate', async () => {
  const noBridge = await sim.api('POST', '/cluster/sdn/zones', { zone: 'gdlab', type: 'vlan' }, root);
  assert.equal(noBridge.status, 500);
  assert.equal(noBridge.statusText, "missing value for required option 'bridge'");
  const stray = await sim.api('POST', '/cluster/sdn/zones', { zone: 'plain', type: 'simple', bridge: 'vmbr0' }, root);
  assert.equal(stray.statusText, "unexpected property 'bridge'");
  const badId = await sim.api('POST', '/cluster/sdn/zones', { zone: 'glassdome1', type: 'simple' }, root);
  assert.equal(badId.status, 400);
  assert.deepEqual(badId.body?.errors, {
    zone: "invalid format - zone ID 'glassdome1' can't be more length than 8 characters\n",
  });
  const denied = await sim.api('POST', '/cluster/sdn/zones', { zone: 'gdlab', type: 'vlan', bridge: 'vmbr0' });
  assert.equal(denied.status, 403);
  assert.equal(denied.statusText, 'Permission check failed (/sdn/zones, SDN.Allocate)');
  const vxlan = await sim.api('POST', '/cluster/sdn/zones', { zone: 'gdvx', type: 'vxlan' }, root);
  assert.equal(vxlan.statusText, "missing value for required option 'peers'");

  const created = await sim.api('POST', '/cluster/sdn/zones', { zone: 'gdlab', type: 'vlan', bridge: 'vmbr0' }, root);
  assert.equal(created.status, 200);
  assert.deepEqual(created.body, { data: null });
  const again = await sim.api('POST', '/cluster/sdn/zones', { zone: 'gdlab', type: 'vlan', bridge: 'vmbr0' }, root);
  assert.equal(again.statusText, "create sdn zone object failed: sdn zone object ID 'gdlab' already defined");
  const zone = (await sim.api('GET', '/cluster/sdn/zones/gdlab', {}, root)).body?.data as Record<string, unknown>;
  assert.equal(zone.zone, 'gdlab');
  assert.equal(zone.type, 'vlan');
  assert.equal(zone.bridge, 'vmbr0');
  assert.match(String(zone.digest), /^[0-9a-f]{40}$/);
  const pending = rows(await sim.api('GET', '/cluster/sdn/zones', { pending: '1' }, root));
  assert.deepEqual(pending, [{ zone: 'gdlab', type: 'vlan', state: 'new', pending: { bridge: 'vmbr0' } }]);
  assert.deepEqual(rows(await sim.api('GET', '/cluster/sdn/zones', { running: '1' }, root)), []);
  assert.deepEqual(sim.running.sim.state.sdn.zones, {}, 'nothing is applied yet');
});

test('vnets: id rules, the VLAN zone wants a tag in range and unique, pending until applied', async () => {
  const long = await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'gdlab0001', zone: 'gdlab', tag: '100' }, root);
  assert.equal(long.status, 400);
  assert.deepEqual(long.body?.errors, {
    vnet: "invalid format - vnet ID 'gdlab0001' can't be more length than 8 characters\n",
  });
  const dashed = await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'gd-1', zone: 'gdlab', tag: '100' }, root);
  assert.deepEqual(dashed.body?.errors, { vnet: "invalid format - vnet ID 'gd-1' contains illegal characters\n" });
  const untagged = await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'gdaaaaaa', zone: 'gdlab' }, root);
  assert.equal(untagged.status, 500);
  assert.equal(untagged.statusText, 'create sdn vnet object failed: 400 Parameter verification failed.');
  assert.equal(
    untagged.body?.message,
    'create sdn vnet object failed: 400 Parameter verification failed.\ntag: missing vlan tag\n',
  );
  const huge = await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'gdaaaaaa', zone: 'gdlab', tag: '5000' }, root);
  assert.match(String(huge.body?.message), /tag: vlan tag max value is 4096/);
  const nozone = await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'gdaaaaaa', zone: 'nozone', tag: '5' }, root);
  assert.equal(nozone.statusText, "create sdn vnet object failed: unknown section type ''");

  const ok = await sim.api(
    'POST',
    '/cluster/sdn/vnets',
    { vnet: 'gdaaaaaa', zone: 'gdlab', tag: '100', alias: 'lab 1 dmz' },
    root,
  );
  assert.equal(ok.status, 200);
  const clash = await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'gdbbbbbb', zone: 'gdlab', tag: '100' }, root);
  assert.match(String(clash.body?.message), /tag: tag 100 already exist in vnet gdaaaaaa/);
  assert.equal(
    (await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'gdbbbbbb', zone: 'gdlab', tag: '101' }, root)).status,
    200,
  );
  const listed = rows(await sim.api('GET', '/cluster/sdn/vnets', {}, root));
  assert.deepEqual(
    listed.map(({ digest, ...rest }) => rest),
    [
      { type: 'vnet', vnet: 'gdaaaaaa', zone: 'gdlab', tag: 100, alias: 'lab 1 dmz' },
      { type: 'vnet', vnet: 'gdbbbbbb', zone: 'gdlab', tag: 101 },
    ],
  );
  const pending = rows(await sim.api('GET', '/cluster/sdn/vnets', { pending: '1' }, root));
  assert.deepEqual(pending[0], {
    type: 'vnet',
    vnet: 'gdaaaaaa',
    state: 'new',
    pending: { alias: 'lab 1 dmz', tag: 100, zone: 'gdlab' },
  });
  assert.deepEqual(sim.running.sim.state.sdn.vnets, {}, 'vnets are not applied before PUT /cluster/sdn');
  // The deploy token sees no vnet it holds nothing on.
  assert.deepEqual(rows(await sim.api('GET', '/cluster/sdn/vnets')), []);
});

test('a NIC on an unapplied vnet fails the start as qemu-server does; after PUT /cluster/sdn it starts', async () => {
  assert.equal(await cloneTemplate(sim, 301), 'OK');
  const set = await sim.api('PUT', '/nodes/pve01/qemu/301/config', { net0: 'virtio,bridge=gdaaaaaa,firewall=1' }, root);
  assert.equal(set.status, 200);
  const start = await sim.api('POST', '/nodes/pve01/qemu/301/status/start', {}, root);
  assert.equal(await sim.waitTask(start.body?.data, root), 'start failed: QEMU exited with code 1');
  const log = rows(
    await sim.api('GET', `/nodes/pve01/tasks/${encodeURIComponent(String(start.body?.data))}/log`, {}, root),
  ).map((line) => line.t);
  assert.ok(log.includes("bridge 'gdaaaaaa' does not exist"), log.join('\n'));
  assert.ok(log.some((line) => String(line).includes('network script /var/lib/qemu-server/pve-bridge failed')));

  const apply = await sim.api('PUT', '/cluster/sdn', {}, root);
  assert.match(
    String(apply.body?.data),
    /^UPID:pve01:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:reloadnetworkall::root@pam:$/,
  );
  assert.deepEqual(sim.running.sim.state.sdn.vnets.gdaaaaaa, {
    vnet: 'gdaaaaaa',
    zone: 'gdlab',
    tag: 100,
    alias: 'lab 1 dmz',
  });
  assert.equal(sim.running.sim.state.sdn.zones.gdlab?.bridge, 'vmbr0');
  assert.equal(await sim.waitTask(apply.body?.data, root), 'OK');
  const pending = rows(await sim.api('GET', '/cluster/sdn/vnets', { pending: '1' }, root));
  assert.ok(pending.every((item) => item.state === undefined && item.pending === undefined));
  const sdnRows = rows(await sim.api('GET', '/cluster/resources', { type: 'sdn' }, root));
  assert.deepEqual(
    sdnRows.map((row) => `${row.id} ${row.status}`),
    ['sdn/pve01/localnetwork ok', 'sdn/pve01/gdlab available'],
  );
  const started = await sim.api('POST', '/nodes/pve01/qemu/301/status/start', {}, root);
  assert.equal(await sim.waitTask(started.body?.data, root), 'OK');
  const tagged = await sim.api('PUT', '/nodes/pve01/qemu/301/config', { net1: 'virtio,bridge=gdbbbbbb,tag=5' }, root);
  assert.equal(tagged.status, 200);
  await sim.waitTask((await sim.api('POST', '/nodes/pve01/qemu/301/status/stop', {}, root)).body?.data, root);
  const vlanOnVnet = await sim.api('POST', '/nodes/pve01/qemu/301/status/start', {}, root);
  assert.equal(await sim.waitTask(vlanOnVnet.body?.data, root), 'start failed: QEMU exited with code 1');
});

test('changes and deletions of applied objects show as pending with their state', async () => {
  const change = await sim.api('PUT', '/cluster/sdn/vnets/gdaaaaaa', { tag: '110', delete: 'alias' }, root);
  assert.equal(change.status, 200);
  const stale = await sim.api('PUT', '/cluster/sdn/vnets/gdaaaaaa', { tag: '111', digest: 'f'.repeat(40) }, root);
  assert.equal(
    stale.statusText,
    'update sdn vnet object failed: detected modified configuration - file changed by other user? Try again.',
  );
  assert.equal((await sim.api('DELETE', '/cluster/sdn/vnets/gdbbbbbb', {}, root)).status, 200);
  const pending = rows(await sim.api('GET', '/cluster/sdn/vnets', { pending: '1' }, root));
  assert.deepEqual(pending, [
    {
      type: 'vnet',
      vnet: 'gdaaaaaa',
      zone: 'gdlab',
      tag: 100,
      alias: 'lab 1 dmz',
      state: 'changed',
      pending: { alias: 'deleted', tag: 110 },
    },
    { type: 'vnet', vnet: 'gdbbbbbb', zone: 'gdlab', tag: 101, state: 'deleted', pending: {} },
  ]);
  assert.equal(sim.running.sim.state.sdn.vnets.gdaaaaaa?.tag, 100, 'the applied vnet keeps its tag');
  const inUse = await sim.api('DELETE', '/cluster/sdn/zones/gdlab', {}, root);
  assert.match(inUse.statusText, /^delete sdn zone object failed: zone gdlab is used by vnet gdaaaaaa at /);
});

test('subnets are named <zone>-<cidr>, need type=subnet and a gateway inside them', async () => {
  const untyped = await sim.api('POST', '/cluster/sdn/vnets/gdaaaaaa/subnets', { subnet: '10.10.1.0/24' }, root);
  assert.equal(untyped.status, 400);
  assert.deepEqual(untyped.body?.errors, { type: 'property is missing and it is not optional' });
  const outside = await sim.api(
    'POST',
    '/cluster/sdn/vnets/gdaaaaaa/subnets',
    { subnet: '10.10.1.0/24', type: 'subnet', gateway: '10.10.2.1' },
    root,
  );
  assert.match(String(outside.body?.message), /gateway: 10\.10\.2\.1 is not in subnet 10\.10\.1\.0\/24/);
  const created = await sim.api(
    'POST',
    '/cluster/sdn/vnets/gdaaaaaa/subnets',
    { subnet: '10.10.1.0/24', type: 'subnet', gateway: '10.10.1.1', snat: '1' },
    root,
  );
  assert.equal(created.status, 200);
  const subnet = (await sim.api('GET', '/cluster/sdn/vnets/gdaaaaaa/subnets/gdlab-10.10.1.0-24', {}, root)).body
    ?.data as Record<string, unknown>;
  assert.equal(subnet.subnet, 'gdlab-10.10.1.0-24');
  assert.equal(subnet.cidr, '10.10.1.0/24');
  assert.equal(subnet.zone, 'gdlab');
  assert.equal(subnet.mask, '24');
  assert.equal(subnet.gateway, '10.10.1.1');
  assert.equal(subnet.snat, 1);
  assert.equal(subnet.type, 'subnet');
  const busy = await sim.api('DELETE', '/cluster/sdn/vnets/gdaaaaaa', {}, root);
  assert.match(String(busy.body?.message), /vnet: Can't delete vnet if subnets exists/);
  assert.equal(
    (await sim.api('DELETE', '/cluster/sdn/vnets/gdaaaaaa/subnets/gdlab-10.10.1.0-24', {}, root)).status,
    200,
  );
});

test('simple and VXLAN zones apply their own tag rules; the index needs SDN.Audit on /sdn', async () => {
  assert.equal((await sim.api('POST', '/cluster/sdn/zones', { zone: 'gdsimple', type: 'simple' }, root)).status, 200);
  const simpleTag = await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'gds1', zone: 'gdsimple', tag: '5' }, root);
  assert.match(String(simpleTag.body?.message), /tag: vlan tag is not allowed on simple zone/);
  assert.equal((await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'gds1', zone: 'gdsimple' }, root)).status, 200);
  const simple = (await sim.api('GET', '/cluster/sdn/vnets/gds1', {}, root)).body?.data as Record<string, unknown>;
  assert.match(String(simple.mac), /^([0-9A-F]{2}:){5}[0-9A-F]{2}$/i, 'a simple zone gives its vnet a MAC');
  const vx = await sim.api(
    'POST',
    '/cluster/sdn/zones',
    { zone: 'gdvx', type: 'vxlan', peers: '10.0.0.1,10.0.0.2' },
    root,
  );
  assert.equal(vx.status, 200);
  const vxNoTag = await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'gdvx1', zone: 'gdvx' }, root);
  assert.match(String(vxNoTag.body?.message), /tag: missing vxlan tag/);
  assert.equal(
    (await sim.api('POST', '/cluster/sdn/vnets', { vnet: 'gdvx1', zone: 'gdvx', tag: '70000' }, root)).status,
    200,
  );
  const index = await sim.api('GET', '/cluster/sdn', {}, root);
  assert.deepEqual(
    rows(index).map((row) => row.id),
    ['vnets', 'zones', 'controllers', 'ipams', 'dns'],
  );
  const tokenIndex = await sim.api('GET', '/cluster/sdn');
  assert.equal(tokenIndex.statusText, 'Permission check failed (/sdn, SDN.Audit)');
  const tokenApply = await sim.api('PUT', '/cluster/sdn');
  assert.equal(tokenApply.statusText, 'Permission check failed (/sdn, SDN.Allocate)');
});
