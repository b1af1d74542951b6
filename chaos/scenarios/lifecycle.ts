/** Tear-downs that race deploys, and a tear-down asked again after it failed for good. */
import type { Scenario } from '../scenario';
import { provisionItems, SLOW_STEPS, sleep, smallLab, VM_DEPLOY_STEPS } from '../workload';

export const deleteDuringDeploy: Scenario = {
  name: 'delete-during-deploy',
  title: 'DELETE of a standalone VM at every step of its deploy, and of a lab mid-deploy',
  cluster: {
    simEnv: { PVE_SIM_LATENCIES: JSON.stringify({ ...JSON.parse(SLOW_STEPS), cloneWorkerStart: 100_000 }) },
  },
  async run(ctx) {
    const steps = ctx.pick<readonly string[]>(VM_DEPLOY_STEPS, ['reserve-vmid', 'clone', 'post-configure']);
    const caught: string[] = [];
    for (const step of steps) {
      const vmId = await ctx.deployVm({ provision: provisionItems(30) });
      if (await ctx.waitForStep([vmId], step)) caught.push(step);
      await ctx.destroyVm(vmId);
    }
    ctx.note(`deleted while running: ${caught.join(', ') || 'none'}`);
    if (ctx.size === 'full') {
      const labId = await ctx.deployLab(smallLab(2));
      await ctx.waitForStep(await ctx.vmsOfLab(labId), 'clone');
      await ctx.destroyLab(labId);
    }
    // A clone the tear-down missed would land within this; the tear-down count then finds it.
    await sleep(3_000);
  },
};

export const destroyAfterFailedDestroy: Scenario = {
  name: 'destroy-after-failed-destroy',
  title:
    "a VM's tear-down fails for good (every qmdestroy task fails), then DELETE is asked again once Proxmox recovers",
  // The re-drive sweep would retry the tear-down by itself; held off so the second DELETE is what ends it.
  cluster: { env: { OVERSEER_REDRIVE_GRACE_SECONDS: '600' } },
  async run(ctx) {
    const vmId = await ctx.deployVm({ provision: provisionItems(2) });
    for (let tries = 0; tries < 600; tries++) {
      const row = await ctx.cluster.db.selectFrom('vms').select('status').where('id', '=', vmId).executeTakeFirst();
      if (row?.status === 'ready' || row?.status === 'failed') break;
      await sleep(200);
    }
    await ctx.cluster.simAdmin('POST', '/faults', { failTasks: { type: 'qmdestroy', rate: 1 } });
    await ctx.destroyVm(vmId);
    // Five attempts with 2, 4, 8 and 16 s between them: over within about 40 s.
    await sleep(45_000);
    const stuck = await ctx.cluster.db.selectFrom('vms').select('status').where('id', '=', vmId).executeTakeFirst();
    ctx.note(`after the tear-down failed for good the VM is ${stuck?.status}`);
    await ctx.cluster.simAdmin('POST', '/faults', { failTasks: null });
    await ctx.destroyVm(vmId);
  },
};
