/**
 * A VM's life through the typed API against the simulator: clone, cloud-init config (ssh keys survive
 * the double encoding), start, the guest agent's address (waited out through "not running" answers),
 * snapshots, shutdown, destroy.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentNotConfiguredError, DeadlineExceededError, NotFoundError } from '../src/index';
import { simAndClient } from './sim';

const bed = simAndClient();

async function linkedClone(newid: number, name: string) {
  await bed.pve.tasks.wait(
    await bed.pve.vms.clone({ sourceVmid: bed.sim.info.templateVmid, newid, name, full: false }),
  );
}

test('clone, configure, start, agent IP, snapshot, shut down, destroy', async () => {
  await linkedClone(5001, 'life-1');
  const keys = [
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx7 trainee@lab',
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHy8 ops@lab',
  ];
  await bed.pve.vms.updateConfig(5001, {
    cores: 2,
    memory: 2048,
    ciuser: 'trainee',
    sshKeys: keys,
    ipconfig0: 'ip=dhcp',
    tags: ['glassdome', 'lab-1'],
  });
  const config = await bed.pve.vms.config(5001);
  assert.deepEqual(config.sshKeys, keys);
  assert.equal(config.memoryMiB, 2048);
  assert.equal(config.cores, 2);
  assert.equal(config.ciuser, 'trainee');
  assert.equal(config.agentEnabled, true);
  assert.equal(config.nics.net0?.bridge, bed.sim.info.bridge);
  assert.match(config.nics.net0?.macaddr ?? '', /^BC:24:11:/i);

  // Asked before the VM runs: "VM 5001 is not running" is waited out, not an error.
  const address = bed.pve.waitForAgentIp(bed.sim.info.node, 5001, { deadlineMs: 30_000 });
  await bed.pve.waitForTask(await bed.pve.vms.start(5001));
  const { ip, interfaces } = await address;
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
  assert.notEqual(ip, '127.0.0.1');
  assert.ok(
    interfaces.some((nic) => nic.name === 'lo'),
    'loopback reported and skipped',
  );
  assert.equal((await bed.pve.vms.status(5001)).status, 'running');

  await bed.pve.tasks.wait(await bed.pve.vms.snapshot(5001, 'before-exercise', { description: 'clean' }));
  assert.deepEqual(
    (await bed.pve.vms.snapshots(5001)).map((snapshot) => snapshot.name),
    ['before-exercise'],
  );
  await bed.pve.tasks.wait(await bed.pve.vms.deleteSnapshot(5001, 'before-exercise'));
  assert.deepEqual(await bed.pve.vms.snapshots(5001), []);

  await bed.pve.tasks.wait(await bed.pve.vms.shutdown(5001, { timeoutSeconds: 60, forceStop: true }));
  assert.equal((await bed.pve.vms.status(5001)).status, 'stopped');
  await bed.pve.tasks.wait(await bed.pve.vms.destroy(5001));
  await assert.rejects(bed.pve.vms.config(5001), NotFoundError);
});

test('a VM without a guest agent configured fails at once instead of waiting out the deadline', async () => {
  await linkedClone(5002, 'no-agent');
  await bed.pve.vms.updateConfig(5002, { delete: ['agent'] });
  await bed.pve.tasks.wait(await bed.pve.vms.start(5002));
  await assert.rejects(bed.pve.agent.waitForIp(5002, { deadlineMs: 60_000 }), AgentNotConfiguredError);
});

test('an agent that never answers ends in DeadlineExceededError naming the last answer', async () => {
  await linkedClone(5003, 'mute-agent');
  await bed.sim.setFaults({ agentNeverUp: 5003 });
  await bed.pve.tasks.wait(await bed.pve.vms.start(5003));
  const error = await bed.pve.agent.waitForIp(5003, { deadlineMs: 500 }).catch((caught: Error) => caught);
  await bed.sim.setFaults({ agentNeverUp: null });
  assert.ok(error instanceof DeadlineExceededError, String(error));
  assert.match(error.message, /guest agent is not running/i);
});
