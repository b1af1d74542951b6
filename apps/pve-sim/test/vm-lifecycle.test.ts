/** A VM's life through the API: clone, cloud-init config, power, snapshots, template, destroy. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cloneTemplate, startTestSim, type TestSim } from './helpers';

let sim: TestSim;
before(async () => {
  sim = await startTestSim();
});
after(() => sim.stop());

const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5dGVzdGtleXRlc3RrZXl0ZXN0a2V5 trainee@lab';

test('a linked clone logs PVE task lines and gets fresh identities', async () => {
  const answer = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '101', name: 'web-1' });
  const upid = String(answer.body?.data);
  assert.match(upid, /^UPID:pve01:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmclone:9000:glassdome@pve!deploy:$/);
  assert.equal(await sim.waitTask(upid), 'OK');
  const status = (await sim.api('GET', `/nodes/pve01/tasks/${encodeURIComponent(upid)}/status`)).body?.data as Record<
    string,
    unknown
  >;
  assert.equal(status.user, 'glassdome@pve');
  assert.equal(status.tokenid, 'deploy');
  assert.equal(status.exitstatus, 'OK');
  const log = await sim.api('GET', `/nodes/pve01/tasks/${encodeURIComponent(upid)}/log`);
  assert.deepEqual(
    (log.body!.data as Array<{ t: string }>).map((line) => line.t),
    [
      'create full clone of drive ide2 (local-lvm:vm-9000-cloudinit)',
      '  Logical volume "vm-101-cloudinit" created.',
      'create linked clone of drive scsi0 (local-lvm:base-9000-disk-0)',
      '  Logical volume "vm-101-disk-0" created.',
      'TASK OK',
    ],
  );
  assert.equal(log.body?.total, 5);
  const template = (await sim.api('GET', '/nodes/pve01/qemu/9000/config')).body?.data as Record<string, string>;
  const config = (await sim.api('GET', '/nodes/pve01/qemu/101/config')).body?.data as Record<string, unknown>;
  assert.equal(config.name, 'web-1');
  assert.equal(config.scsi0, 'local-lvm:vm-101-disk-0,size=2252M');
  assert.equal(config.ide2, 'local-lvm:vm-101-cloudinit,media=cdrom,size=4M');
  assert.equal(config.template, undefined);
  assert.notEqual(config.net0, template.net0);
  assert.match(String(config.net0), /^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0$/);
  assert.notEqual(config.smbios1, template.smbios1);
});

test('cloud-init keys are stored as sent: sshkeys stays percent-encoded, cipassword is masked', async () => {
  const put = await sim.api('PUT', '/nodes/pve01/qemu/101/config', {
    ciuser: 'trainee',
    cipassword: 'hunter2',
    sshkeys: encodeURIComponent(key),
    ipconfig0: 'ip=10.10.0.10/24,gw=10.10.0.1',
    nameserver: '1.1.1.1',
    net0: 'virtio,bridge=vmbr0,tag=100',
  });
  assert.equal(put.status, 200);
  assert.deepEqual(put.body, { data: null });
  const config = (await sim.api('GET', '/nodes/pve01/qemu/101/config')).body?.data as Record<string, unknown>;
  assert.equal(config.sshkeys, encodeURIComponent(key));
  assert.equal(config.cipassword, '**********');
  assert.equal(config.ipconfig0, 'ip=10.10.0.10/24,gw=10.10.0.1');
  assert.match(String(config.net0), /^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0,tag=100$/);
  const bad = await sim.api('PUT', '/nodes/pve01/qemu/101/config', { sshkeys: 'ssh-rsa AAAA me' });
  assert.equal(bad.status, 400);
  assert.match(String(bad.body?.errors?.sshkeys), /^invalid format - invalid urlencoded string/);
  const garbage = await sim.api('PUT', '/nodes/pve01/qemu/101/config', { sshkeys: 'not-a-key' });
  assert.equal(garbage.statusText, 'SSH public key validation error');
  const guest = sim.running.sim.guest(101);
  assert.deepEqual(guest?.sshkeys, [key]);
  assert.equal(guest?.ciuser, 'trainee');
});

test('config POST is a qmconfig task; conflicting delete is a 400; a stale digest fails', async () => {
  const post = await sim.api('POST', '/nodes/pve01/qemu/101/config', { cores: '4', memory: '4096' });
  assert.match(String(post.body?.data), /:qmconfig:101:/);
  assert.equal(await sim.waitTask(post.body?.data), 'OK');
  const config = (await sim.api('GET', '/nodes/pve01/qemu/101/config')).body?.data as Record<string, unknown>;
  assert.equal(config.cores, 4);
  assert.equal(config.memory, '4096');
  const conflict = await sim.api('PUT', '/nodes/pve01/qemu/101/config', { cores: '2', delete: 'cores' });
  assert.deepEqual(conflict.body?.errors, { cores: "you can't use '-cores' and -delete cores' at the same time" });
  const stale = await sim.api('PUT', '/nodes/pve01/qemu/101/config', { cores: '2', digest: '0'.repeat(40) });
  assert.equal(stale.statusText, 'checksum mismatch (file change by other user?)');
  const empty = await sim.api('PUT', '/nodes/pve01/qemu/101/config', {});
  assert.equal(empty.statusText, 'no options specified');
});

test('power actions are tasks with PVE errors, and status/current follows', async () => {
  const reboot = await sim.api('POST', '/nodes/pve01/qemu/101/status/reboot');
  assert.equal(reboot.statusText, 'VM 101 not running');
  const start = await sim.api('POST', '/nodes/pve01/qemu/101/status/start');
  assert.equal(await sim.waitTask(start.body?.data), 'OK');
  const current = (await sim.api('GET', '/nodes/pve01/qemu/101/status/current')).body?.data as Record<string, unknown>;
  assert.equal(current.status, 'running');
  assert.equal(current.qmpstatus, 'running');
  assert.equal(current.agent, 1);
  assert.deepEqual(current.ha, { managed: 0 });
  const again = await sim.api('POST', '/nodes/pve01/qemu/101/status/start');
  assert.equal(await sim.waitTask(again.body?.data), 'VM 101 already running');
  const destroyRunning = await sim.api('DELETE', '/nodes/pve01/qemu/101');
  assert.equal(destroyRunning.statusText, 'VM 101 is running - destroy failed');
  const shutdown = await sim.api('POST', '/nodes/pve01/qemu/101/status/shutdown');
  assert.equal(await sim.waitTask(shutdown.body?.data), 'OK');
  const stop = await sim.api('POST', '/nodes/pve01/qemu/101/status/stop');
  assert.equal(await sim.waitTask(stop.body?.data), 'OK');
  // The deploy token may only clone the template (its /vms/9000 grant replaces the /vms one).
  const denied = await sim.api('POST', '/nodes/pve01/qemu/9000/status/start');
  assert.equal(denied.statusText, 'Permission check failed (/vms/9000, VM.PowerMgmt)');
  const root = await sim.rootAuth();
  const templateStart = await sim.api('POST', '/nodes/pve01/qemu/9000/status/start', {}, root);
  assert.equal(await sim.waitTask(templateStart.body?.data, root), "you can't start a vm if it's a template");
});

test('snapshots: take, list, roll back, delete', async () => {
  const reserved = await sim.api('POST', '/nodes/pve01/qemu/101/snapshot', { snapname: 'current' });
  assert.deepEqual(reserved.body?.errors, { snapname: "unable to use snapshot name 'current' (reserved name)" });
  const take = await sim.api('POST', '/nodes/pve01/qemu/101/snapshot', { snapname: 'clean', description: 'before' });
  assert.equal(await sim.waitTask(take.body?.data), 'OK');
  await sim.api('PUT', '/nodes/pve01/qemu/101/config', { cores: '8' });
  const list = (await sim.api('GET', '/nodes/pve01/qemu/101/snapshot')).body?.data as Array<Record<string, unknown>>;
  assert.deepEqual(
    list.map((s) => s.name),
    ['clean', 'current'],
  );
  assert.equal(list[1]!.parent, 'clean');
  const dup = await sim.api('POST', '/nodes/pve01/qemu/101/snapshot', { snapname: 'clean' });
  assert.equal(await sim.waitTask(dup.body?.data), "snapshot name 'clean' already used");
  const rollback = await sim.api('POST', '/nodes/pve01/qemu/101/snapshot/clean/rollback');
  assert.equal(await sim.waitTask(rollback.body?.data), 'OK');
  const config = (await sim.api('GET', '/nodes/pve01/qemu/101/config')).body?.data as Record<string, unknown>;
  assert.equal(config.cores, 4);
  assert.equal(config.lock, undefined);
  const del = await sim.api('DELETE', '/nodes/pve01/qemu/101/snapshot/clean');
  assert.equal(await sim.waitTask(del.body?.data), 'OK');
  const missing = await sim.api('POST', '/nodes/pve01/qemu/101/snapshot/clean/rollback');
  assert.equal(missing.statusText, "snapshot 'clean' does not exist");
});

test('storage usage grows with full clones and shrinks on destroy', async () => {
  const used = async () =>
    ((await sim.api('GET', '/nodes/pve01/storage', { storage: 'local-lvm' })).body!.data as Array<{ used: number }>)[0]!
      .used;
  const before = await used();
  assert.equal(await cloneTemplate(sim, 102, { full: '1' }), 'OK');
  const afterClone = await used();
  assert.equal(afterClone - before, 2252 * 1024 ** 2 + 4 * 1024 ** 2);
  const destroy = await sim.api('DELETE', '/nodes/pve01/qemu/102', { purge: '1', 'destroy-unreferenced-disks': '1' });
  assert.match(String(destroy.body?.data), /:qmdestroy:102:/);
  assert.equal(await sim.waitTask(destroy.body?.data), 'OK');
  assert.equal(await used(), before);
  const gone = await sim.api('GET', '/nodes/pve01/qemu/102/config');
  assert.equal(gone.statusText, "Configuration file 'nodes/pve01/qemu-server/102.conf' does not exist");
});

test('create, template and linked clones of a new template; a base in use cannot be destroyed', async () => {
  const root = await sim.rootAuth();
  const create = await sim.api(
    'POST',
    '/nodes/pve01/qemu',
    {
      vmid: '8000',
      name: 'base',
      memory: '1024',
      scsihw: 'virtio-scsi-pci',
      scsi0: 'local-lvm:8',
      ide2: 'local-lvm:cloudinit',
      agent: '1',
    },
    root,
  );
  assert.equal(await sim.waitTask(create.body?.data, root), 'OK');
  const linkedFromVm = await sim.api('POST', '/nodes/pve01/qemu/8000/clone', { newid: '8001', full: '0' }, root);
  assert.equal(linkedFromVm.statusText, "Linked clone feature is not supported for 'local-lvm:vm-8000-disk-0' (scsi0)");
  const template = await sim.api('POST', '/nodes/pve01/qemu/8000/template', {}, root);
  assert.equal(await sim.waitTask(template.body?.data, root), 'OK');
  const config = (await sim.api('GET', '/nodes/pve01/qemu/8000/config', {}, root)).body?.data as Record<
    string,
    unknown
  >;
  assert.equal(config.scsi0, 'local-lvm:base-8000-disk-0,size=8G');
  assert.equal(config.template, 1);
  const clone = await sim.api('POST', '/nodes/pve01/qemu/8000/clone', { newid: '8001' }, root);
  assert.equal(await sim.waitTask(clone.body?.data, root), 'OK');
  const destroy = await sim.api('DELETE', '/nodes/pve01/qemu/8000', {}, root);
  assert.equal(
    await sim.waitTask(destroy.body?.data, root),
    "base volume 'local-lvm:base-8000-disk-0' is still in use by linked cloned",
  );
});

test('task list shows finished tasks with end times', async () => {
  const list = await sim.api('GET', '/nodes/pve01/tasks', { typefilter: 'qmclone', limit: '2' });
  const items = list.body?.data as Array<Record<string, unknown>>;
  assert.equal(items.length, 2);
  assert.ok(items.every((t) => t.type === 'qmclone' && typeof t.endtime === 'number'));
  assert.ok(Number(list.body?.total) >= 2);
  const bad = await sim.api('GET', '/nodes/pve01/tasks/nonsense/status');
  assert.deepEqual(bad.body?.errors, { upid: 'unable to parse worker upid' });
});
