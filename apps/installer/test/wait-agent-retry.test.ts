/**
 * `wait-agent` repeated after a failure reboots the VM only when the guest agent was what failed.
 * Before, any repeat rebooted: a 10 s Postgres outage rebooted 16 healthy VMs.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Proxmox } from '@glassdome/proxmox';
import type { TestSimulator } from '@glassdome/testkit';
import type { InstallerContext } from '../src/context';
import { AgentSilentError } from '../src/steps/agent-retry';
import { waitForAgent } from '../src/steps/proxmox-steps';
import { type DirectContext, recordOfSimVm, startDirectContext, TEST_PLACEMENT } from './direct-context';

let direct: DirectContext;
let sim: TestSimulator;
let pve: Proxmox;
let ctx: InstallerContext;

before(async () => {
  direct = await startDirectContext('wait-agent', (sim) => ({
    AGENT_TIMEOUT_SECONDS: 60,
    GUEST_SSH_PORT: sim.info.guestSshPort,
  }));
  ({ sim, pve, ctx } = direct);
});

after(() => direct?.stop());

/** A running simulator VM and its record, as `start` leaves them. */
async function runningVm(name: string) {
  const created = (await sim.admin('POST', '/bulk-vms', { count: 1, start: true })) as { first: number };
  return recordOfSimVm(direct, name, created.first);
}

async function reboots(vmid: number): Promise<number> {
  const tasks = await pve.client.get<unknown[]>(`/nodes/${sim.info.node}/tasks`, { vmid, typefilter: 'qmreboot' });
  return tasks.length;
}

const placement = TEST_PLACEMENT;

test('a repeat after an outage, a timeout or a crash waits for the agent without rebooting', async () => {
  const vm = await runningVm('healthy');
  for (const previousError of [
    'terminating connection due to administrator command',
    'vm.deploy did not finish within 1800000 ms',
    null,
  ]) {
    const found = await waitForAgent(ctx, vm, placement, previousError);
    assert.match(found.ip, /^\d+\.\d+\.\d+\.\d+$/);
  }
  assert.equal(await reboots(vm.vmid!), 0, 'the healthy VM was never rebooted');
});

test('a repeat after the agent never answered reboots the VM first', async () => {
  const vm = await runningVm('silent');
  const previousError = new AgentSilentError(vm.vmid!, 'guest agent IP of VM did not happen within 60000 ms').message;
  await waitForAgent(ctx, vm, placement, previousError);
  assert.equal(await reboots(vm.vmid!), 1);
});
