/** The read-only indexes third-party tools walk: storage config, cluster/access/VM/storage directories. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestSim, type TestSim } from './helpers';

let sim: TestSim;
let root: Record<string, string>;
before(async () => {
  sim = await startTestSim();
  root = await sim.rootAuth();
});
after(() => sim.stop());

type Row = Record<string, unknown>;
const rows = (answer: { body?: { data?: unknown } }) => answer.body?.data as Row[];

test('GET /storage lists the storage config the caller may see, with type-specific options and the digest', async () => {
  const all = rows(await sim.api('GET', '/storage', {}, root));
  assert.deepEqual(
    all.map(({ digest, ...rest }) => rest),
    [
      { storage: 'local', type: 'dir', content: 'iso,vztmpl,backup,snippets', path: '/var/lib/vz' },
      { storage: 'local-lvm', type: 'lvmthin', content: 'images,rootdir', vgname: 'pve', thinpool: 'data' },
    ],
  );
  assert.match(String(all[0]!.digest), /^[0-9a-f]{40}$/);
  assert.equal(all[0]!.digest, all[1]!.digest, 'one digest for the whole storage.cfg');
  // The deploy token holds PVEDatastoreUser on /storage/local-lvm only.
  assert.deepEqual(
    rows(await sim.api('GET', '/storage')).map((row) => row.storage),
    ['local-lvm'],
  );
  assert.deepEqual(
    rows(await sim.api('GET', '/storage', { type: 'dir' }, root)).map((row) => row.storage),
    ['local'],
  );
  const badType = await sim.api('GET', '/storage', { type: 'floppy' }, root);
  assert.equal(badType.status, 400);
  assert.match(String(badType.body?.errors?.type), /^value 'floppy' does not have a value in the enumeration 'btrfs, /);
});

test('GET /storage/{storage} needs Datastore.Allocate and names a missing storage', async () => {
  const one = (await sim.api('GET', '/storage/local-lvm', {}, root)).body?.data as Row;
  assert.equal(one.type, 'lvmthin');
  assert.equal(one.thinpool, 'data');
  const token = await sim.api('GET', '/storage/local-lvm');
  assert.equal(token.status, 403);
  assert.equal(token.statusText, 'Permission check failed (/storage/local-lvm, Datastore.Allocate)');
  const missing = await sim.api('GET', '/storage/nfs-iso', {}, root);
  assert.equal(missing.status, 500);
  assert.equal(missing.statusText, "storage 'nfs-iso' does not exist");
  const badId = await sim.api('GET', '/storage/9bad', {}, root);
  assert.deepEqual(badId.body?.errors, { storage: "invalid format - storage ID '9bad' contains illegal characters\n" });
});

test('the root, cluster and access directories answer like PVE 8.4', async () => {
  assert.deepEqual(
    rows(await sim.api('GET', '/')).map((row) => row.subdir),
    ['version', 'cluster', 'nodes', 'storage', 'access', 'pools'],
  );
  const cluster = rows(await sim.api('GET', '/cluster')).map((row) => row.name);
  for (const name of ['nextid', 'resources', 'status', 'sdn', 'firewall', 'tasks'])
    assert.ok(cluster.includes(name), name);
  assert.deepEqual(
    rows(await sim.api('GET', '/access')).map((row) => row.subdir),
    ['users', 'groups', 'roles', 'acl', 'domains', 'openid', 'tfa', 'ticket', 'password'],
  );
  const extra = await sim.api('GET', '/cluster', { full: '1' });
  assert.deepEqual(extra.body?.errors, {
    full: 'property is not defined in schema and the schema does not allow additional properties',
  });
});

test('VM status and node storage directories; a storage status; VM and storage must exist or be allowed', async () => {
  assert.deepEqual(
    rows(await sim.api('GET', '/nodes/pve01/qemu/9000/status')).map((row) => row.subdir),
    ['current', 'start', 'stop', 'reset', 'shutdown', 'suspend', 'reboot'],
  );
  const noVm = await sim.api('GET', '/nodes/pve01/qemu/4242/status');
  assert.equal(noVm.statusText, "Configuration file 'nodes/pve01/qemu-server/4242.conf' does not exist");
  const storageDir = rows(await sim.api('GET', '/nodes/pve01/storage/local-lvm')).map((row) => row.subdir);
  assert.ok(storageDir.includes('content') && storageDir.includes('status'));
  const notMine = await sim.api('GET', '/nodes/pve01/storage/local');
  assert.equal(notMine.statusText, 'Permission check failed (/storage/local, Datastore.Audit|Datastore.AllocateSpace)');
  const status = (await sim.api('GET', '/nodes/pve01/storage/local-lvm/status')).body?.data as Row;
  assert.equal(status.type, 'lvmthin');
  assert.equal(status.active, 1);
  assert.equal(Number(status.total), Number(status.used) + Number(status.avail));
  const unknown = await sim.api('GET', '/nodes/pve01/storage/zfs1/status', {}, root);
  assert.deepEqual(unknown.body?.errors, { storage: 'No such storage.' });
});

test('groups are listed only where the caller holds a privilege on them; a group and a realm read back', async () => {
  assert.equal((await sim.api('POST', '/access/groups', { groupid: 'students', comment: 'class' }, root)).status, 200);
  assert.deepEqual(rows(await sim.api('GET', '/access/groups', {}, root)), [
    { groupid: 'students', comment: 'class', users: '' },
  ]);
  assert.deepEqual(rows(await sim.api('GET', '/access/groups')), []);
  assert.deepEqual((await sim.api('GET', '/access/groups/students', {}, root)).body?.data, {
    comment: 'class',
    members: [],
  });
  const missing = await sim.api('GET', '/access/groups/teachers', {}, root);
  assert.equal(missing.statusText, "group 'teachers' does not exist");
  const pve = (await sim.api('GET', '/access/domains/pve', {}, root)).body?.data as Row;
  assert.equal(pve.type, 'pve');
  assert.match(String(pve.digest), /^[0-9a-f]{40}$/);
  const tokenRealm = await sim.api('GET', '/access/domains/pve');
  assert.equal(tokenRealm.statusText, 'Permission check failed (/access/realm, Realm.Allocate|Sys.Audit)');
});
