/** Proxmox misbehaving: 5xx answers, storage-lock timeouts, a guest agent that never answers. */
import type { Scenario } from '../scenario';
import { deployVms, provisionItems, sleep, smallLab } from '../workload';

export const proxmox5xx: Scenario = {
  name: 'proxmox-5xx',
  title: '10% of Proxmox API calls answered 500 and 3% 595, the whole run (deploys, a lab, the tear-down)',
  cluster: { simEnv: { PVE_SIM_FAULTS: JSON.stringify({ rate500: 0.1, rate595: 0.03 }) } },
  async run(ctx) {
    await deployVms(ctx, ctx.pick(6, 3));
    await ctx.deployLab(smallLab(ctx.pick(2, 1)));
  },
};

export const storageLockTimeouts: Scenario = {
  name: 'storage-lock-timeouts',
  title: 'full clones admitted 8 at a time onto one storage, each holding its lock 5x longer than PVE waits for it',
  cluster: {
    env: { CLONE_FULL: '1', CLONE_SLOTS_PER_STORAGE: '8' },
    simEnv: { PVE_SIM_LATENCIES: JSON.stringify({ fullClonePerDisk: 50_000 }) },
  },
  settleMs: 300_000,
  async run(ctx) {
    await deployVms(ctx, ctx.pick(8, 4), 2);
  },
};

export const agentNeverUp: Scenario = {
  name: 'agent-never-up',
  title: "one VM's guest agent never answers (the others deploy beside it); it must fail with the reason",
  allowedFailures: 1,
  cluster: { env: { AGENT_TIMEOUT_SECONDS: '3' } },
  settleMs: 300_000,
  async run(ctx) {
    const silent = await ctx.deployVm({ provision: provisionItems(2) });
    let vmid: number | null = null;
    for (let tries = 0; tries < 600 && vmid === null; tries++) {
      vmid =
        (await ctx.cluster.db.selectFrom('vms').select('vmid').where('id', '=', silent).executeTakeFirst())?.vmid ??
        null;
      if (vmid === null) await sleep(10);
    }
    if (vmid === null) throw new Error('the VM got no VMID');
    await ctx.cluster.simAdmin('POST', '/faults', { agentNeverUp: vmid });
    const others = await deployVms(ctx, ctx.pick(3, 2), 2);
    for (let tries = 0; tries < 600; tries++) {
      const row = await ctx.cluster.db
        .selectFrom('vms')
        .select(['status', 'error'])
        .where('id', '=', silent)
        .executeTakeFirst();
      if (row?.status === 'failed') {
        ctx.note(`the silent VM failed: ${row.error}`);
        if (!/agent/i.test(String(row.error))) ctx.problem(`the reason does not name the agent: ${row.error}`);
        break;
      }
      await sleep(500);
    }
    const ready = await ctx.cluster.db.selectFrom('vms').select('status').where('id', 'in', others).execute();
    await ctx.cluster.simAdmin('POST', '/faults', { agentNeverUp: null });
    if (ready.some((row) => row.status === 'failed')) ctx.problem('a VM beside the silent one failed');
  },
};
