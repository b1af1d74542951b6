/** Disk resize as PVE 8 does it: a `resize` task that grows the volume and the drive's `size=`, never shrinks. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cloneTemplate, startTestSim, type TestSim } from './helpers';

let sim: TestSim;
before(async () => {
  sim = await startTestSim({ storageCapacityGiB: 64 });
  assert.equal(await cloneTemplate(sim, 401), 'OK');
});
after(() => sim.stop());

const GiB = 1024 ** 3;

async function resize(params: Record<string, string>) {
  const answer = await sim.api('PUT', '/nodes/pve01/qemu/401/resize', params);
  assert.equal(answer.status, 200, answer.statusText);
  const upid = String(answer.body?.data);
  assert.match(upid, /^UPID:pve01:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:resize:401:glassdome@pve!deploy:$/);
  const exitstatus = await sim.waitTask(upid);
  const log = await sim.api('GET', `/nodes/pve01/tasks/${encodeURIComponent(upid)}/log`);
  return { exitstatus, log: (log.body!.data as Array<{ t: string }>).map((line) => line.t) };
}

async function scsi0() {
  return ((await sim.api('GET', '/nodes/pve01/qemu/401/config')).body!.data as { scsi0: string }).scsi0;
}

async function avail() {
  const rows = (await sim.api('GET', '/nodes/pve01/storage', { storage: 'local-lvm' })).body?.data as Array<{
    avail: number;
  }>;
  return rows[0]!.avail;
}

test('growing to an absolute size updates the volume, the storage and the drive line', async () => {
  const before = await avail();
  const { exitstatus, log } = await resize({ disk: 'scsi0', size: '20G' });
  assert.equal(exitstatus, 'OK');
  assert.deepEqual(log, [
    '  Size of logical volume pve/vm-401-disk-0 changed from 2.20 GiB (563 extents) to 20.00 GiB (5120 extents).',
    '  Logical volume pve/vm-401-disk-0 successfully resized.',
    'TASK OK',
  ]);
  assert.equal(await scsi0(), 'local-lvm:vm-401-disk-0,size=20G');
  const content = (await sim.api('GET', '/nodes/pve01/storage/local-lvm/content', { vmid: '401' })).body
    ?.data as Array<{ volid: string; size: number }>;
  assert.equal(content.find((v) => v.volid === 'local-lvm:vm-401-disk-0')?.size, 20 * GiB);
  // A linked clone takes room only for what it grew beyond its base.
  assert.equal(before - (await avail()), 20 * GiB - 2252 * 1024 ** 2);
});

test('a relative size adds to the current one; the same size is a no-op', async () => {
  assert.equal((await resize({ disk: 'scsi0', size: '+512M' })).exitstatus, 'OK');
  assert.equal(await scsi0(), 'local-lvm:vm-401-disk-0,size=20992M');
  const same = await resize({ disk: 'scsi0', size: '20992M' });
  assert.deepEqual(same.log, ['TASK OK']);
});

test('shrinking, a missing disk and the cloud-init cdrom fail inside the task', async () => {
  assert.equal((await resize({ disk: 'scsi0', size: '1G' })).exitstatus, 'shrinking disks is not supported');
  assert.equal((await resize({ disk: 'scsi1', size: '+1G' })).exitstatus, "disk 'scsi1' does not exist");
  assert.equal((await resize({ disk: 'ide2', size: '+1G' })).exitstatus, "you can't resize a cdrom");
  assert.equal(await scsi0(), 'local-lvm:vm-401-disk-0,size=20992M');
});

test('growing past the free space of the storage fails with LVM wording and changes nothing', async () => {
  const { exitstatus, log } = await resize({ disk: 'scsi0', size: '+4096G' });
  assert.equal(
    exitstatus,
    "error resizing volume '/dev/pve/vm-401-disk-0': command '/sbin/lvextend -L 4215296M /dev/pve/vm-401-disk-0' failed: exit code 5",
  );
  assert.match(log[0]!, /^ {2}Insufficient free space: 1048576 extents needed, but only \d+ available$/);
  assert.equal(await scsi0(), 'local-lvm:vm-401-disk-0,size=20992M');
});

test('parameters are checked against the schema before any task starts', async () => {
  const badDisk = await sim.api('PUT', '/nodes/pve01/qemu/401/resize', { disk: 'nvme0', size: '+1G' });
  assert.equal(badDisk.status, 400);
  assert.match(
    String(badDisk.body?.errors?.disk),
    /^value 'nvme0' does not have a value in the enumeration 'ide0, ide1/,
  );
  const badSize = await sim.api('PUT', '/nodes/pve01/qemu/401/resize', { disk: 'scsi0', size: '10GB' });
  assert.deepEqual(badSize.body?.errors, { size: 'value does not match the regex pattern' });
  const extra = await sim.api('PUT', '/nodes/pve01/qemu/401/resize', { disk: 'scsi0', size: '+1G', force: '1' });
  assert.deepEqual(extra.body?.errors, {
    force: 'property is not defined in schema and the schema does not allow additional properties',
  });
  const skiplock = await sim.api('PUT', '/nodes/pve01/qemu/401/resize', { disk: 'scsi0', size: '+1G', skiplock: '1' });
  assert.deepEqual(skiplock.body?.errors, { skiplock: 'Only root may use this option.' });
});
