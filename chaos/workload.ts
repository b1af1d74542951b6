/** The VMs and labs the scenarios deploy, and latencies that make each deploy step long enough to hit. */
import { setTimeout as sleep } from 'node:timers/promises';
import { VM_DEPLOY_STEPS } from '../packages/queue/src/catalog';
import type { ScenarioContext } from './scenario';

export { sleep, VM_DEPLOY_STEPS };

/**
 * Simulator latencies (ms at time scale 1, so a hundredth of that in a run) under which every step of
 * a deploy lasts a few hundred milliseconds: long enough to kill a process in the middle of it.
 */
export const SLOW_STEPS = JSON.stringify({ linkedClone: 60_000, smallTask: 20_000, boot: 40_000, agentStart: 60_000 });

/**
 * Provisioning items: each appends a line to a log on the guest (one SSH script each), after a
 * `sleep` of `sleepSeconds` (guest time: scaled like every simulator duration) when one is given.
 */
export function provisionItems(count: number, sleepSeconds?: number): { run: string }[] {
  const pause = sleepSeconds === undefined ? '' : `sleep ${sleepSeconds} && `;
  return Array.from({ length: count }, (_, n) => ({ run: `${pause}echo item-${n} >> /var/log/chaos-items.log` }));
}

/** A two-VM lab (b waits for a) on one network, in `copies` copies. */
export function smallLab(copies: number) {
  return {
    copies,
    networks: [{ name: 'lan', cidr: '10.20.0.0/24' }],
    vms: [
      { name: 'a', os: 'ubuntu-22.04', networks: ['lan'] },
      { name: 'b', os: 'ubuntu-22.04', networks: ['lan'], dependsOn: ['a'] },
    ],
  };
}

/** A lab with three networks (two per VM): more network tasks for the gateway. */
export function networkedLab(copies: number) {
  return {
    copies,
    networks: [
      { name: 'lan', cidr: '10.20.0.0/24' },
      { name: 'dmz', cidr: '10.30.0.0/24' },
      { name: 'ops', cidr: '10.40.0.0/24' },
    ],
    vms: [
      { name: 'a', os: 'ubuntu-22.04', networks: ['lan', 'dmz'] },
      { name: 'b', os: 'ubuntu-22.04', networks: ['dmz', 'ops'], dependsOn: ['a'] },
    ],
  };
}

/** Deploys `count` standalone VMs with a few provisioning items each; returns their ids. */
export async function deployVms(ctx: ScenarioContext, count: number, items = 8): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) ids.push(await ctx.deployVm({ provision: provisionItems(items) }));
  return ids;
}

/** Waits until at least `share` of the VMs have finished their clone (the outage then hits work in flight). */
export async function waitForProgress(ctx: ScenarioContext, vmIds: string[], share = 0.5, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const cloned = await ctx.cluster.db
      .selectFrom('steps')
      .select('vm_id')
      .where('vm_id', 'in', vmIds)
      .where('name', '=', 'clone')
      .where('status', '=', 'done')
      .execute();
    if (cloned.length >= Math.ceil(vmIds.length * share)) return;
    await sleep(50);
  }
  ctx.note('the workload had not progressed as far as wanted when the fault hit');
}
