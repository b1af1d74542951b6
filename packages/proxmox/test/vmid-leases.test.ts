/**
 * VMID leases in Postgres, checked against the simulated cluster: one id per owner, expiry and
 * takeover, exhaustion, ids the cluster uses, and a resumed clone that finds its VM instead of making
 * a second one.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDb, type Db, migrateToLatest, PostgresVmidLeaseStore } from '@glassdome/db';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { cloneVm, createProxmox, type Proxmox, VmidAllocator, VmidExhaustedError } from '../src/index';
import { type RunningSim, startSim } from './sim';

let sim: RunningSim;
let database: TestDatabase;
let db: Db;
let pve: Proxmox;

before(async () => {
  [sim, database] = await Promise.all([startSim({ nodes: ['pve01', 'pve02'] }), createTestDatabase('proxmox-vmid')]);
  db = createDb(database.url);
  await migrateToLatest(db);
  pve = createProxmox(sim.config());
});

after(async () => {
  pve?.close();
  await db?.destroy();
  await database?.drop();
  await sim?.stop();
});

const allocator = (min: number, max: number) =>
  new VmidAllocator({
    leases: new PostgresVmidLeaseStore(db),
    cluster: pve.cluster,
    range: { min, max },
    maxAttempts: 5,
  });

test('an owner keeps one lease: allocating again returns it, release frees it', async () => {
  const vmids = allocator(3000, 3999);
  const lease = { platformId: 'p1', owner: 'job-1' };
  const vmid = await vmids.allocateVmid(lease);
  assert.ok(vmid >= 3000 && vmid <= 3999);
  assert.equal(await vmids.allocateVmid(lease), vmid);
  assert.equal((await vmids.findLeaseByOwner(lease))?.vmid, vmid);
  assert.notEqual(await vmids.allocateVmid({ ...lease, owner: 'job-2' }), vmid);
  await vmids.releaseVmid({ ...lease, vmid });
  assert.equal(await vmids.findLeaseByOwner(lease), undefined);
});

test('an allocator that did not lease the id (another process, after a crash) renews the lease the owner holds', async () => {
  const lease = { platformId: 'p1', owner: 'job-crashed' };
  const vmid = await allocator(3500, 3599).allocateVmid(lease);
  // Its VM now stands at the id and fills a range of one: no candidate is left, the lease is still its.
  await pve.tasks.wait(await pve.vms.clone({ sourceVmid: sim.info.templateVmid, newid: vmid, name: 'crashed' }));
  assert.equal(await allocator(vmid, vmid).allocateVmid(lease), vmid);
  assert.equal(await allocator(3500, 3599).allocateVmid(lease), vmid);
  // With the lease gone, the owner gets a new id.
  await allocator(3500, 3599).releaseVmid({ ...lease, vmid });
  const next = await allocator(3500, 3599).allocateVmid(lease);
  assert.notEqual(next, vmid);
  assert.equal((await allocator(3500, 3599).findLeaseByOwner(lease))?.vmid, next);
});

test('the clone right after a handOff reservation takes its id unasked, once and only while the lease is young', async () => {
  const calls: string[] = [];
  const store = new PostgresVmidLeaseStore(db);
  const counted = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return value.apply(target, args);
      };
    },
  });
  const vmids = new VmidAllocator({ leases: counted, cluster: pve.cluster, range: { min: 3600, max: 3699 } });
  const lease = { platformId: 'p1', owner: 'vm-handoff', ttlMs: 60_000 };
  const vmid = await vmids.allocateVmid({ ...lease, handOff: true });
  calls.length = 0;
  // The clone's first allocation: no statement, the same id.
  const clone = { ...lease, takeHandOff: true };
  assert.equal(await vmids.allocateVmid(clone), vmid);
  assert.equal(calls.join(), '');
  // Only once: the next asks the store (a renewal of the lease the owner holds).
  assert.equal(await vmids.allocateVmid(clone), vmid);
  assert.equal(calls.join(), 'renewHeld');
  // A repeat of the clone (not its first attempt) asks the store even right after a reservation: the
  // lease may have been released meanwhile (the deploy stopped, then run again).
  await vmids.allocateVmid({ ...lease, handOff: true });
  calls.length = 0;
  assert.equal(await vmids.allocateVmid(lease), vmid);
  assert.equal(calls.join(), 'renewHeld');
  // A reservation again asks the store, whatever was handed off before.
  await vmids.allocateVmid({ ...lease, handOff: true });
  calls.length = 0;
  assert.equal(await vmids.allocateVmid({ ...lease, handOff: true }), vmid);
  assert.equal(calls.join(), 'renewHeld');
  // Once a third of the lease has passed, the clone asks again: the lease may be near its end.
  const short = { ...lease, owner: 'vm-handoff-late', ttlMs: 300 };
  const late = await vmids.allocateVmid({ ...short, handOff: true });
  await sleep(150);
  calls.length = 0;
  assert.equal(await vmids.allocateVmid({ ...short, takeHandOff: true }), late);
  assert.equal(calls.join(), 'renewHeld');
  // A release forgets the handed-off id: the owner's next allocation asks for a lease of its own.
  const gone = await vmids.allocateVmid({ ...lease, owner: 'vm-handoff-released', handOff: true });
  await vmids.releaseVmid({ ...lease, owner: 'vm-handoff-released', vmid: gone });
  calls.length = 0;
  await vmids.allocateVmid({ ...lease, owner: 'vm-handoff-released', takeHandOff: true });
  assert.ok(calls.includes('renewHeldOrAcquire'), calls.join());
  assert.equal(
    (await vmids.findLeaseByOwner({ platformId: 'p1', owner: 'vm-handoff-released' }))?.owner,
    'vm-handoff-released',
  );
});

test('a live lease blocks its id; an expired one is taken over and its old owner can no longer renew', async () => {
  const vmids = allocator(3100, 3100);
  const first = { platformId: 'p1', owner: 'dead-worker', ttlMs: 50 };
  assert.equal(await vmids.allocateVmid({ ...first, ttlMs: 60_000 }), 3100);
  await assert.rejects(vmids.allocateVmid({ platformId: 'p1', owner: 'other' }), VmidExhaustedError);
  // Shorten the live lease, as if its owner had stopped renewing, and let it lapse.
  assert.equal(await vmids.renewLease({ ...first, vmid: 3100 }), true);
  await sleep(100);
  assert.equal(await vmids.allocateVmid({ platformId: 'p1', owner: 'successor' }), 3100);
  assert.equal(await vmids.renewLease({ ...first, vmid: 3100 }), false);
  // Nor does its next allocation take back the id it held: that lease is the successor's now.
  await assert.rejects(vmids.allocateVmid({ ...first, ttlMs: 60_000 }), VmidExhaustedError);
  assert.equal((await vmids.findLeaseByOwner({ platformId: 'p1', owner: 'successor' }))?.vmid, 3100);
});

test('leases are per platform: the same id may be leased on two Proxmox targets', async () => {
  const vmids = allocator(3200, 3200);
  assert.equal(await vmids.allocateVmid({ platformId: 'east', owner: 'a' }), 3200);
  assert.equal(await vmids.allocateVmid({ platformId: 'west', owner: 'b' }), 3200);
});

test('an id the cluster already uses is never leased', async () => {
  const vmids = allocator(sim.info.templateVmid, sim.info.templateVmid);
  await assert.rejects(vmids.allocateVmid({ platformId: 'p1', owner: 'x' }), VmidExhaustedError);
});

test('a resumed clone with the same owner finds the VM already made instead of making a second', async () => {
  const vmids = allocator(3300, 3399);
  const request = {
    platformId: 'p1',
    owner: 'vm-record-7',
    sourceVmid: sim.info.templateVmid,
    name: 'resumed-7',
    storage: sim.info.storage,
    full: false,
  };
  const recorded: number[] = [];
  const first = await cloneVm({ pve, vmids }, { ...request, onVmid: (vmid) => void recorded.push(vmid) });
  assert.equal(first.resumed, false);
  assert.deepEqual(recorded, [first.vmid]);
  const again = await cloneVm({ pve, vmids }, request);
  assert.equal(again.resumed, true);
  assert.equal(again.vmid, first.vmid);
  assert.equal((await pve.vms.list()).filter((vm) => vm.name === 'resumed-7').length, 1);

  // Long after: the lease has lapsed (released here), but the job recorded the id it got.
  await vmids.releaseVmid({ ...request, vmid: first.vmid });
  const late = await cloneVm({ pve, vmids }, { ...request, recordedVmid: first.vmid });
  assert.deepEqual([late.vmid, late.resumed], [first.vmid, true]);
  assert.equal((await pve.vms.list()).filter((vm) => vm.name === 'resumed-7').length, 1);
});

/**
 * A clone whose first leased id someone outside Glassdome takes (`take`) right before the clone is
 * asked for: the ids the clone was offered, and where it landed.
 */
async function cloneOntoTakenId(
  range: [number, number],
  name: string,
  take: (vmid: number) => Promise<unknown>,
  firstAttempt?: boolean,
) {
  const vmids = allocator(...range);
  const owner = `vm-${name}`;
  const offered: number[] = [];
  const cloned = await cloneVm(
    { pve, vmids },
    {
      platformId: 'p1',
      owner,
      sourceVmid: sim.info.templateVmid,
      name,
      storage: sim.info.storage,
      full: false,
      ...(firstAttempt ? { firstAttempt } : {}),
      onVmid: async (vmid) => {
        offered.push(vmid);
        if (offered.length === 1) await take(vmid);
      },
    },
  );
  assert.equal(offered.length, 2);
  assert.equal(cloned.vmid, offered[1]);
  assert.notEqual(cloned.vmid, offered[0]);
  assert.equal((await pve.vms.config(cloned.vmid)).name, name);
  assert.equal((await vmids.findLeaseByOwner({ platformId: 'p1', owner }))?.vmid, cloned.vmid);
  return offered[0]!;
}

test('an id taken outside Glassdome between lease and clone turns into a new id, not a failure', async () => {
  // Someone with no lease (a person in the web UI) takes the id first.
  const taken = await cloneOntoTakenId([3400, 3499], 'contested-8', async (vmid) =>
    pve.tasks.wait(await pve.vms.clone({ sourceVmid: sim.info.templateVmid, newid: vmid, name: 'manual' })),
  );
  assert.equal((await pve.vms.config(taken)).name, 'manual');
});

test('an id a guest on another node holds: the clone task is refused, and another id leased', async () => {
  // Someone makes a VM with that id on the other node: the clone's node holds no config of it, so only
  // the clone's worker finds it taken.
  const taken = await cloneOntoTakenId(
    [3500, 3599],
    'contested-9',
    async (vmid) => pve.tasks.wait(await pve.client.post<string>('/nodes/pve02/qemu', { vmid, name: 'elsewhere' })),
    true,
  );
  assert.equal((await pve.vms.config(taken, 'pve02')).name, 'elsewhere');
});
