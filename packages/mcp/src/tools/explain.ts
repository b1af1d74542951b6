/** `explain_failure`: why a lab or VM failed, and what Glassdome can do about it, as structured data. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AlertList } from '../api/client';
import { ApiCallError } from '../api/errors';
import { type LabEvent, labEventsUpToNow } from '../api/events';
import { explainLab, explainVm } from '../explain/explain';
import { defineTool, type ToolContext, ToolInputError } from './define';

async function openAlerts(ctx: ToolContext): Promise<AlertList['items']> {
  try {
    return (await ctx.api.alerts({ limit: 500 })).items;
  } catch (error) {
    // Alerts are context, not the answer: a key that may not read them still gets its explanation.
    if (error instanceof ApiCallError && (error.status === 403 || error.status === 404)) return [];
    throw error;
  }
}

async function eventsOf(ctx: ToolContext, labId: string | null): Promise<LabEvent[]> {
  if (!labId) return [];
  return (await labEventsUpToNow(ctx.api, labId, { limit: 1000 })).events;
}

export function registerExplainTool(server: McpServer, ctx: ToolContext, readOnlyMode: boolean): void {
  defineTool(server, ctx, 'explain_failure', {
    title: 'Explain a failure',
    description:
      'For a failed or degraded lab (or a failed VM): the failing step of each failed VM with its error, attempts and timings, the lab’s failed tasks, the related events and alerts, and the remedies Glassdome knows (retry, permission repair, template build, …) with the tool or API call that applies each.' +
      (readOnlyMode ? ' This key can read only: remedies name what an operator would run.' : ''),
    input: {
      labId: z.string().uuid().optional().describe('the lab to explain'),
      vmId: z.string().uuid().optional().describe('or: one VM to explain (a lab VM is explained within its lab)'),
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
    run: async ({ labId, vmId }) => {
      if ((labId === undefined) === (vmId === undefined)) throw new ToolInputError('give exactly one of labId or vmId');
      if (labId) {
        const [lab, events, alerts] = await Promise.all([ctx.api.getLab(labId), eventsOf(ctx, labId), openAlerts(ctx)]);
        return { ...explainLab(lab, events, alerts) };
      }
      const vm = await ctx.api.getVm(vmId!);
      const [events, alerts] = await Promise.all([eventsOf(ctx, vm.labId), openAlerts(ctx)]);
      if (vm.labId) {
        const whole = explainLab(await ctx.api.getLab(vm.labId), events, alerts);
        const vms = whole.vms.filter((failure) => failure.vmId === vm.id);
        return { ...whole, focus: { vmId: vm.id, name: vm.name, copy: vm.copy }, vms };
      }
      return { ...explainVm(vm, events, alerts) };
    },
  });
}
