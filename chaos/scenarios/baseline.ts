/** No fault at all: the workload the other scenarios disturb, as a control. */
import type { Scenario } from '../scenario';
import { deployVms, networkedLab, smallLab } from '../workload';

export const baseline: Scenario = {
  name: 'baseline',
  title: 'no fault: standalone VMs, a two-VM lab and a three-network lab, as the control for the rest',
  async run(ctx) {
    await deployVms(ctx, ctx.pick(4, 2));
    await ctx.deployLab(smallLab(ctx.pick(2, 1)));
    await ctx.deployLab(networkedLab(ctx.pick(2, 1)));
  },
};
