/**
 * A VM's life through the typed API against the simulator: clone, cloud-init config (ssh keys survive
 * the double encoding), start, the guest agent's address (waited out through "not running" answers),
 * snapshots, shutdown, destroy.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AgentNotConfiguredError,
  createProxmox,
  DeadlineExceededError,
  NotFoundError,
  type Proxmox,
} from '../src/index';
import { type RunningSim, startSim } from './sim';

let sim: RunningSim;
let pve: Proxmox;

before(async () => {
  sim = await startSim();
  pve = createProxmox(sim.config());
});

after(async () => {
  pve?.close();
  await sim?.stop();
});

async function linkedClone(newid: number, name: string) {
  await pve.tasks.wait(await pve.vms.clone({ sourceVmid: sim.info.templateVmid, newid, name, full: false }));
}

test('clone, configure, start, agent IP, snapshot, shut down, destroy', async () => {
  await linkedClone(5001, 'life-1');
  const keys = [
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx7 trainee@lab',
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHy8 ops@lab',
  ];
  await pve.vms.updateConfig(5001, {
    cores: 2,
    memory: 2048,
    ciuser: 'trainee',
    sshKeys: keys,
    ipconfig0: 'ip=dhcp',
    tags: ['glassdome', 'lab-1'],
  });
  const config = await pve.vms.config(5001);
  assert.deepEqual(config.sshKeys, keys);
  assert.equal(config.memoryMiB, 2048);
  assert.equal(config.cores, 2);
  assert.equal(config.ciuser, 'trainee');
  assert.equal(config.agentEnabled, true);
  assert.equal(config.nics.net0?.bridge, sim.info.bridge);
  assert.match(config.nics.net0?.macaddr ?? '', /^BC:24:11:/i);

  // Asked before the VM runs: "VM 5001 is not running" is waited out, not an error.
  const address = pve.waitForAgentIp(sim.info.node, 5001, { deadlineMs: 30_000 });
  await pve.waitForTask(await pve.vms.start(5001));
  const { ip, interfaces } = await address;
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
  assert.notEqual(ip, '127.0.0.1');
  assert.ok(
    interfaces.some((nic) => nic.name === 'lo'),
    'loopback reported and skipped',
  );
  assert.equal((await pve.vms.status(5001)).status, 'running');

  await pve.tasks.wait(await pve.vms.snapshot(5001, 'before-exercise', { description: 'clean' }));
  assert.deepEqual(
    (await pve.vms.snapshots(5001)).map((snapshot) => snapshot.name),
    ['before-exercise'],
  );
  await pve.tasks.wait(await pve.vms.deleteSnapshot(5001, 'before-exercise'));
  assert.deepEqual(await pve.vms.snapshots(5001), []);

  await pve.tasks.wait(await pve.vms.shutdown(5001, { timeoutSeconds: 60, forceStop: true }));
  assert.equal((await pve.vms.status(5001)).status, 'stopped');
  await pve.tasks.wait(await pve.vms.destroy(5001));
  await assert.rejects(pve.vms.config(5001), NotFoundError);
});

test('a VM without a guest agent configured fails at once instead of waiting out the deadline', async () => {
  await linkedClone(5002, 'no-agent');
  await pve.vms.updateConfig(5002, { delete: ['agent'] });
  await pve.tasks.wait(await pve.vms.start(5002));
  await assert.rejects(pve.agent.waitForIp(5002, { deadlineMs: 60_000 }), AgentNotConfiguredError);
});

test('an agent that never answers ends in DeadlineExceededError naming the last answer', async () => {
  await linkedClone(5003, 'mute-agent');
  await sim.setFaults({ agentNeverUp: 5003 });
  await pve.tasks.wait(await pve.vms.start(5003));
  const error = await pve.agent.waitForIp(5003, { deadlineMs: 500 }).catch((caught: Error) => caught);
  await sim.setFaults({ agentNeverUp: null });
  assert.ok(error instanceof DeadlineExceededError, String(error));
  assert.match(error.message, /guest agent is not running/i);
});
