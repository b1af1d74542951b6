/**
 * The kept rows and bodies of the VM lists answer exactly what building every row afresh answers:
 * after each kind of change to a VM (its config edited in place — memory, cores, name, a disk,
 * serial, lock, tags, template —, power, pool, pvestatd's stats, a node going offline, a new second
 * of uptime), the bytes the HTTP front sends are `JSON.stringify` of rows built anew, in the very
 * next answer; and a caller only ever gets the rows it may audit, whoever asked before.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Simulator } from '../sim';
import type { Vm } from '../state/types';
import { vmListItem } from './vm-status';

const sim = new Simulator({ timeScale: 0.001, withTemplate: false, latencies: { resourcesLag: 0 } });
after(() => sim.stop());
const root = { userid: 'root@pam' };
const token = { userid: 'glassdome@pve', tokenid: 'deploy' };

for (let vmid = 100; vmid < 110; vmid += 1) {
  sim.state.vms[vmid] = {
    vmid,
    node: 'pve01',
    status: vmid % 2 ? 'running' : 'stopped',
    snapshots: {},
    config: { name: `vm-${vmid}`, memory: '1024', cores: '1', scsi0: `local-lvm:vm-${vmid}-disk-0,size=8G` },
    ...(vmid % 2 ? { startedAt: Date.now() - vmid * 1000, pid: 4000 + vmid } : {}),
  } as Vm;
}

async function sent(path: string, params: Record<string, string> = {}, auth: { userid: string } = root) {
  const result = await sim.dispatch({ method: 'GET', path, params, auth });
  assert.equal(result.status, 200);
  assert.ok(result.payload !== undefined, `${path} answers kept bytes`);
  const payload = result.payload();
  assert.equal(payload.toString(), JSON.stringify({ data: result.data }), 'the sent body is the rows serialised');
  const text = JSON.stringify(result.data);
  return { text, rows: result.data as Record<string, unknown>[], payload };
}

/** The qemu list as building every item anew gives it (same `now` as the answer's uptimes). */
function fresh(rows: Record<string, unknown>[]) {
  return JSON.stringify(
    Object.values(sim.state.vms).map((vm) => {
      const item = vmListItem(vm);
      item.uptime = rows.find((row) => row.vmid === vm.vmid)?.uptime;
      return item;
    }),
  );
}

async function check(change: string, mutate: () => void) {
  mutate();
  const resources = await sent('/cluster/resources', { type: 'vm' });
  if (sim.faults.nodeIsOffline('pve01')) {
    // The node's own list is unreachable (595); the cluster's shows its VMs as unknown.
    assert.ok(resources.rows.every((row) => row.status === 'unknown' && Object.keys(row).length === 5));
    return;
  }
  const list = await sent('/nodes/pve01/qemu');
  assert.equal(list.text, fresh(list.rows), `qemu list after: ${change}`);
  for (const row of resources.rows) {
    const item = list.rows.find((candidate) => candidate.vmid === row.vmid)!;
    assert.equal(row.status, item.status);
    for (const [field, from] of [
      ['name', 'name'],
      ['maxmem', 'maxmem'],
      ['maxdisk', 'maxdisk'],
      ['maxcpu', 'cpus'],
      ['lock', 'lock'],
      ['tags', 'tags'],
    ] as const) {
      assert.equal(row[field], item[from], `resources ${field} after: ${change}`);
    }
  }
  assert.throws(() => {
    (list.rows[0] as Record<string, unknown>).name = 'x';
  }, TypeError);
}

const vm = (vmid: number) => sim.state.vms[vmid]!;

test('kept rows follow every change of what they are made of', async () => {
  await check('nothing', () => {});
  await check('memory edited in place', () => {
    vm(101).config.memory = '4096';
  });
  await check('cores and name', () => {
    vm(102).config.cores = '4';
    vm(102).config.name = 'renamed';
  });
  await check('a bigger boot disk', () => {
    vm(103).config.scsi0 = 'local-lvm:vm-103-disk-0,size=32G';
  });
  await check('a second disk and boot order', () => {
    vm(104).config.virtio1 = 'local-lvm:vm-104-disk-1,size=64G';
    vm(104).config.boot = 'order=virtio1;scsi0';
  });
  await check('a serial port, a lock, tags, a template', () => {
    vm(105).config.serial0 = 'socket';
    vm(106).config.lock = 'backup';
    vm(107).config.tags = 'lab;web';
    vm(108).config.template = '1';
  });
  await check('a key deleted', () => {
    delete vm(106).config.lock;
  });
  await check('a whole new config object', () => {
    vm(109).config = { ...vm(109).config, memory: '2048' };
  });
  await check('powered on and off', () => {
    sim.powerOff(vm(101));
    vm(100).status = 'running';
    vm(100).startedAt = Date.now() - 5000;
    vm(100).pid = 5100;
  });
  await check('joined a pool', () => {
    vm(103).pool = 'class-a';
  });
  await check('a node offline', () => {
    sim.setFaults({ nodeOffline: 'pve01' });
  });
  await check('the node back', () => {
    sim.setFaults({ nodeOffline: null });
  });
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await check('a second later (uptimes moved)', () => {});
});

test('the very next body shows a change, answer after answer, also from one kept body', async () => {
  const bodies = async () => ({
    list: JSON.parse((await sent('/nodes/pve01/qemu')).payload.toString()).data as Record<string, unknown>[],
    resources: JSON.parse((await sent('/cluster/resources', { type: 'vm' })).payload.toString()).data as Record<
      string,
      unknown
    >[],
  });
  const row = (rows: Record<string, unknown>[], vmid: number) => rows.find((item) => item.vmid === vmid);
  await bodies();
  await bodies(); // the same rows again: the kept body is reused

  vm(107).config.name = 'renamed-in-place';
  let seen = await bodies();
  assert.equal(row(seen.list, 107)?.name, 'renamed-in-place');
  assert.equal(row(seen.resources, 107)?.name, 'renamed-in-place');

  vm(107).config.memory = '8192';
  seen = await bodies();
  assert.equal(row(seen.list, 107)?.maxmem, 8192 * 1024 ** 2);
  assert.equal(row(seen.resources, 107)?.maxmem, 8192 * 1024 ** 2);

  const wasRunning = vm(107).status === 'running';
  if (wasRunning) sim.powerOff(vm(107));
  else sim.powerOn(vm(107));
  seen = await bodies();
  const status = wasRunning ? 'stopped' : 'running';
  assert.equal(row(seen.list, 107)?.status, status);
  assert.equal(row(seen.resources, 107)?.status, status);

  delete sim.state.vms[107];
  seen = await bodies();
  assert.equal(row(seen.list, 107), undefined, 'a destroyed VM leaves the list');
  assert.equal(row(seen.resources, 107), undefined);
});

test('an uptime that moved is written into the kept body; the body handed out before is left as it was', async () => {
  const running = vm(109);
  if (running.status !== 'running') sim.powerOn(running);
  running.startedAt = Date.now() - 20_000; // 20 s: two digits, as after the next change
  const first = await sent('/nodes/pve01/qemu');
  const before = Buffer.from(first.payload);
  running.startedAt -= 7_000;
  const second = await sent('/nodes/pve01/qemu');
  assert.equal(
    (JSON.parse(second.payload.toString()).data as Record<string, unknown>[]).find((item) => item.vmid === 109)?.uptime,
    (first.rows.find((item) => item.vmid === 109)?.uptime as number) + 7,
  );
  assert.deepEqual(first.payload, before, 'the first answer’s bytes did not change under its socket');
  running.startedAt -= 100_000; // a digit more: the body is built anew
  const third = await sent('/nodes/pve01/qemu');
  assert.ok(((third.rows.find((item) => item.vmid === 109)?.uptime as number) ?? 0) >= 100);
});

test('a token sees only the VMs it may audit, whoever listed before and after its grants change', async () => {
  const vmids = (rows: Record<string, unknown>[]) => rows.map((item) => item.vmid as number).sort();
  const all = Object.keys(sim.state.vms).map(Number).sort();
  const lists = async (auth: { userid: string }) => ({
    list: vmids((await sent('/nodes/pve01/qemu', {}, auth)).rows),
    resources: vmids((await sent('/cluster/resources', { type: 'vm' }, auth)).rows),
  });
  assert.deepEqual(await lists(root), { list: all, resources: all });
  assert.deepEqual(await lists(token), { list: all, resources: all }, 'VM.Audit on /vms covers every VM');

  // A deeper grant without VM.Audit replaces the inherited one: VM 104 disappears for the token only.
  sim.state.acl.push({
    path: '/vms/104',
    type: 'token',
    ugid: 'glassdome@pve!deploy',
    roleid: 'NoAccess',
    propagate: 1,
  });
  const without104 = all.filter((vmid) => vmid !== 104);
  assert.deepEqual(await lists(root), { list: all, resources: all });
  assert.deepEqual(await lists(token), { list: without104, resources: without104 });
  assert.deepEqual(await lists(root), { list: all, resources: all }, 'root’s body is its own');

  sim.state.acl = sim.state.acl.filter((entry) => entry.path !== '/vms/104');
  assert.deepEqual(await lists(token), { list: all, resources: all }, 'the grant back: VM 104 shows again');

  // The token loses VM.Audit on /vms altogether: nothing to list, at once.
  const saved = sim.state.acl;
  sim.state.acl = saved.filter((entry) => !(entry.path === '/vms' && entry.type === 'token'));
  assert.deepEqual(await lists(token), { list: [], resources: [] });
  sim.state.acl = saved;
  assert.deepEqual(await lists(token), { list: all, resources: all });
});
