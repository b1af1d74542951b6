/** Glassdome's own processes dying or stopping mid-work. */
import type { Scenario, ScenarioContext } from '../scenario';
import { provisionItems, SLOW_STEPS, sleep, smallLab, VM_DEPLOY_STEPS, waitForProgress } from '../workload';

/** The steps a kill is aimed at: all of them, or a few in the small run. */
function targetSteps(ctx: ScenarioContext): readonly string[] {
  return ctx.pick<readonly string[]>(VM_DEPLOY_STEPS, ['clone', 'wait-agent', 'post-configure']);
}

function summarize(ctx: ScenarioContext, caught: string[], missed: string[]): void {
  ctx.note(`killed while running: ${caught.join(', ') || 'none'}`);
  if (missed.length > 0) ctx.note(`over before the kill (fast steps): ${missed.join(', ')}`);
}

export const installerKillDeploy: Scenario = {
  name: 'installer-kill-deploy',
  title: 'kill -9 of the installer at every step of a standalone deploy (one VM per step), a fresh one started',
  cluster: { installers: 1, simEnv: { PVE_SIM_LATENCIES: SLOW_STEPS } },
  async run(ctx) {
    const caught: string[] = [];
    const missed: string[] = [];
    for (const step of targetSteps(ctx)) {
      const vmId = await ctx.deployVm({ provision: provisionItems(30) });
      ((await ctx.waitForStep([vmId], step)) ? caught : missed).push(step);
      await ctx.cluster.crashInstallers();
    }
    summarize(ctx, caught, missed);
  },
};

export const installerKillLab: Scenario = {
  name: 'installer-kill-lab',
  title: 'kill -9 of the installer at every step of a lab VM, a fresh one started each time',
  cluster: { installers: 1, simEnv: { PVE_SIM_LATENCIES: SLOW_STEPS } },
  async run(ctx) {
    const labId = await ctx.deployLab(smallLab(ctx.pick(2, 1)));
    const caught: string[] = [];
    const missed: string[] = [];
    for (const step of targetSteps(ctx)) {
      const vmIds = await ctx.vmsOfLab(labId);
      ((await ctx.waitForStep(vmIds, step)) ? caught : missed).push(step);
      await ctx.cluster.crashInstallers();
    }
    summarize(ctx, caught, missed);
  },
};

export const gatewayKillLab: Scenario = {
  name: 'gateway-kill-lab',
  title: "kill -9 of the gateway while each copy's network tasks run, a fresh one started",
  cluster: { installers: 1 },
  async run(ctx) {
    const copies = ctx.pick(3, 1);
    const labId = await ctx.deployLab(smallLab(copies));
    const caught: string[] = [];
    for (let copy = 0; copy < copies; copy++) {
      if (await ctx.waitForLabTask(labId, `c${copy}:net:`, 30_000)) caught.push(`c${copy}`);
      await ctx.cluster.crashGateway();
    }
    ctx.note(`network tasks caught running: ${caught.join(', ') || 'none'} of ${copies} copies`);
  },
};

/**
 * How much longer than the installer's shutdown bound the post-configuration of `sigterm-handback`
 * lasts at least: its items sleep on the guest, so a faster machine cannot make it shorter.
 */
const OUTLAST_BOUND = 3;

export const sigtermHandback: Scenario = {
  name: 'sigterm-handback',
  title:
    'SIGTERM to the installer mid-post-configuration (items that sleep on the guest for 3x its 5 s shutdown bound); a second installer finishes the deploy',
  cluster: { installers: 1 },
  async run(ctx) {
    const boundSeconds = Number(ctx.cluster.env.WORKER_SHUTDOWN_SECONDS);
    // The cluster always names its time scale (the simulator's default would be 0.01 too).
    const timeScale = ctx.cluster.simOptions?.timeScale ?? 0.01;
    const count = ctx.pick(60, 40);
    // Guest seconds per item such that the items' sleeps alone add up to OUTLAST_BOUND bounds.
    const sleepSeconds = Math.ceil((OUTLAST_BOUND * boundSeconds) / count / timeScale);
    const vmId = await ctx.deployVm({ provision: provisionItems(count, sleepSeconds) });
    const [first] = ctx.cluster.processes.installers;
    if (!(await ctx.waitForStep([vmId], 'post-configure'))) {
      ctx.problem('post-configuration was not seen running, so the SIGTERM could not hit it');
      return;
    }
    // SIGTERM at once (the second installer starts while the first winds down): what is left of the
    // post-configuration then outlasts the bound by the whole margin, however long a start takes.
    const sentAt = Date.now();
    const stopped = first!.stop(30_000).then((code) => ({ code, seconds: (Date.now() - sentAt) / 1000 }));
    await ctx.cluster.addInstaller();
    const { code, seconds } = await stopped;
    const sleepTotal = count * sleepSeconds * timeScale;
    ctx.note(
      `${count} items of \`sleep ${sleepSeconds}\` (${sleepTotal.toFixed(1)} s at time scale ${timeScale}); ` +
        `the stopped installer exited with ${code} ${seconds.toFixed(1)} s after its SIGTERM`,
    );
    for (let tries = 0; tries < 900; tries++) {
      const vm = await ctx.cluster.db.selectFrom('vms').select('status').where('id', '=', vmId).executeTakeFirst();
      if (vm?.status !== 'deploying' && vm?.status !== 'queued') break;
      await sleep(200);
    }
    const starts = await ctx.cluster.db
      .selectFrom('events')
      .select('id')
      .where('vm_id', '=', vmId)
      .where('kind', '=', 'vm.step.started')
      .where('message', '=', 'post-configure started')
      .execute();
    if (starts.length > 1) ctx.note('post-configuration was handed back and resumed on the other installer');
    else ctx.problem('post-configuration was not handed back (it ran once)');
  },
};

export const stackRestartMidLab: Scenario = {
  name: 'stack-restart-mid-lab',
  title: 'the whole stack (simulator and every Glassdome process) stopped and started again mid-lab',
  cluster: { installers: 2, simEnv: { PVE_SIM_LATENCIES: SLOW_STEPS } },
  async run(ctx) {
    const labId = await ctx.deployLab(smallLab(ctx.pick(3, 1)));
    await waitForProgress(ctx, await ctx.vmsOfLab(labId), 0.3);
    await ctx.cluster.stopGlassdome();
    await ctx.cluster.restartSimulator();
    await sleep(1_000);
    await ctx.cluster.startGlassdome();
  },
};
