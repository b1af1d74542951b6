import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadSnapshot, redactedState, saveSnapshot } from './persist';
import { Simulator } from './sim';
import type { Vm } from './state/types';

const dir = mkdtempSync(join(tmpdir(), 'pve-sim-persist-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function addVm(sim: Simulator, vmid: number, extra: Partial<Vm> = {}): Vm {
  const vm: Vm = { vmid, node: 'pve01', status: 'stopped', snapshots: {}, config: { name: `vm-${vmid}` }, ...extra };
  sim.state.vms[vmid] = vm;
  return vm;
}

test('a restored running VM that had booted is up at once, keeping its uptime, pid and agent', async () => {
  const before = new Simulator({ timeScale: 0.01 });
  const vm = addVm(before, 101, { config: { name: 'web', agent: 'enabled=1' } });
  const startedAt = Date.now() - 60_000;
  Object.assign(vm, {
    status: 'running',
    startedAt,
    bootedAt: startedAt + 3000,
    agentUpAt: startedAt + 8000,
    pid: 4242,
  });
  const file = join(dir, 'booted.json');
  await saveSnapshot(before, file);
  before.stop();

  const after = new Simulator({ timeScale: 0.01 });
  const ups: number[] = [];
  after.on('guest-up', (guest) => ups.push(guest.vmid));
  await loadSnapshot(after, file);
  const guest = after.guest(101)!;
  assert.equal(guest.up, true);
  assert.equal(guest.agentUp, true);
  assert.equal(after.state.vms[101]!.pid, 4242);
  assert.equal(after.state.vms[101]!.startedAt, startedAt);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(ups, [101], 'listeners already running hear the guest is up');
  after.stop();
});

test('a restored VM still booting finishes its boot when it would have', async () => {
  const before = new Simulator({ timeScale: 0.01 });
  const vm = addVm(before, 102);
  const now = Date.now();
  // Far enough ahead that saving and loading on a busy machine (load 20 on 2 cores: >150 ms) ends first.
  const bootAt = now + 3_000;
  Object.assign(vm, { status: 'running', startedAt: now, bootedAt: bootAt, pid: 7 });
  const file = join(dir, 'booting.json');
  await saveSnapshot(before, file);
  before.stop();

  const after = new Simulator({ timeScale: 0.01 });
  await loadSnapshot(after, file);
  assert.equal(after.guest(102)!.up, false);
  const up = await new Promise<number>((resolve) => after.once('guest-up', () => resolve(Date.now())));
  assert.ok(up >= bootAt - 1, 'not before its boot time');
  assert.equal(after.guest(102)!.up, true);
  after.stop();
});

test('a clone cut short by the restart is dropped with its volumes; its task reads as interrupted', async () => {
  const before = new Simulator({ timeScale: 0.01 });
  addVm(before, 103, { config: { lock: 'clone' } });
  const storage = before.state.storages['pve01/local-lvm']!;
  storage.volumes['vm-103-disk-0'] = { vmid: 103, sizeBytes: 1024 };
  before.state.tasks['UPID:x'] = {
    upid: 'UPID:x',
    node: 'pve01',
    pid: 1,
    pstart: 1,
    starttime: 1,
    type: 'qmclone',
    id: '9000',
    user: 'root@pam',
    status: 'running',
    log: [],
  };
  const file = join(dir, 'cut.json');
  await saveSnapshot(before, file);
  before.stop();

  const after = new Simulator({ timeScale: 0.01 });
  await loadSnapshot(after, file);
  assert.equal(after.state.vms[103], undefined);
  assert.equal(after.state.storages['pve01/local-lvm']!.volumes['vm-103-disk-0'], undefined);
  assert.equal(after.state.tasks['UPID:x']!.exitstatus, 'unexpected status');
  after.stop();
});

test('the admin dump redacts host private keys', () => {
  const sim = new Simulator();
  addVm(sim, 104, {
    guest: {
      os: 'ubuntu-22.04',
      hostKey: { privateKey: 'PRIVATE', publicKey: 'ssh-ed25519 AAAA' },
      files: {},
      packages: [],
      services: {},
      kernelParameters: {},
    },
  });
  const text = JSON.stringify(redactedState(sim.state));
  assert.ok(!text.includes('PRIVATE'));
  assert.ok(text.includes('ssh-ed25519 AAAA'));
  sim.stop();
});

test('saves racing each other (an admin save during the one at SIGTERM) all succeed and leave a whole file', async () => {
  const sim = new Simulator({ timeScale: 0.01 });
  for (let vmid = 200; vmid < 260; vmid++) addVm(sim, vmid);
  const file = join(dir, 'raced.json');
  await Promise.all(Array.from({ length: 8 }, () => saveSnapshot(sim, file)));
  const loaded = new Simulator({ timeScale: 0.01 });
  await loadSnapshot(loaded, file);
  assert.equal(Object.keys(loaded.state.vms).filter((vmid) => Number(vmid) >= 200 && Number(vmid) < 260).length, 60);
  sim.stop();
  loaded.stop();
});
