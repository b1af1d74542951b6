/** Redis and Postgres going away mid-deploy: briefly, for longer than every retry, or losing everything. */
import type { Scenario } from '../scenario';
import { deployVms, SLOW_STEPS, sleep, smallLab, waitForProgress } from '../workload';

/** A backing service stopped mid-deploy for `downMs` (its data kept), the API probed meanwhile. */
function outageMidDeploy(name: string, title: string, service: 'redis' | 'postgres', downMs: number): Scenario {
  return {
    name,
    title,
    cluster: { simEnv: { PVE_SIM_LATENCIES: SLOW_STEPS } },
    async run(ctx) {
      const vms = await deployVms(ctx, ctx.pick(6, 3));
      await waitForProgress(ctx, vms);
      await ctx.probeApiDuring(
        async () => {
          await ctx.cluster[service].stop();
          await sleep(downMs);
          await ctx.cluster[service].start();
        },
        { writes: true },
      );
    },
  };
}

export const redisOutage = outageMidDeploy(
  'redis-outage',
  'Redis stopped for 10 s mid-deploy (its data kept); the API probed meanwhile',
  'redis',
  10_000,
);

export const postgresRestart = outageMidDeploy(
  'postgres-restart',
  'Postgres restarted mid-deploy (down 5 s); the API probed meanwhile',
  'postgres',
  5_000,
);

export const redisWipe: Scenario = {
  name: 'redis-wipe',
  title: 'Redis killed and restarted empty mid-deploy (every job and scheduler lost)',
  cluster: { simEnv: { PVE_SIM_LATENCIES: SLOW_STEPS } },
  async run(ctx) {
    const vms = await deployVms(ctx, ctx.pick(6, 3));
    const labs = ctx.size === 'full' ? [await ctx.deployLab(smallLab(2))] : [];
    await waitForProgress(ctx, vms);
    await ctx.cluster.redis.kill();
    ctx.cluster.redis.wipe();
    await ctx.cluster.redis.start();
    ctx.note(`${vms.length} VMs and ${labs.length} lab in flight when Redis lost everything`);
  },
};

export const postgresDownLong: Scenario = {
  name: 'postgres-down-long',
  title: 'Postgres down for 60 s mid-deploy, longer than every job retry budget; the API probed meanwhile',
  cluster: { simEnv: { PVE_SIM_LATENCIES: SLOW_STEPS } },
  settleMs: 300_000,
  async run(ctx) {
    const vms = await deployVms(ctx, ctx.pick(6, 3));
    if (ctx.size === 'full') await ctx.deployLab(smallLab(2));
    await waitForProgress(ctx, vms);
    await ctx.probeApiDuring(async () => {
      await ctx.cluster.postgres.stop();
      await sleep(ctx.pick(60_000, 40_000));
      await ctx.cluster.postgres.start();
    });
  },
};
