/** Read tools: labs, VMs, a lab's events, alerts, the overseer's report, queue health. Every role has them. */

import { LAB_STATUSES, VM_STATUSES } from '@glassdome/lab';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { labEventsUpToNow } from '../api/events';
import { labState } from '../lab-state';
import { defineTool, type ToolContext } from './define';

const readOnly = { readOnlyHint: true, openWorldHint: false } as const;
const id = (what: string) => z.string().uuid().describe(`the ${what}'s id (a UUID)`);
const paging = {
  limit: z.number().int().min(1).max(500).optional().describe('rows per page (default 50)'),
  offset: z.number().int().min(0).optional().describe('rows to skip'),
};

export function registerReadTools(server: McpServer, ctx: ToolContext, options: { systemStatus: boolean }): void {
  defineTool(server, ctx, 'list_labs', {
    title: 'List labs',
    description:
      'Labs this API key can see (its project; every project for an admin), newest first, with status and expiry.',
    input: { status: z.enum(LAB_STATUSES).optional().describe('only labs in this status'), ...paging },
    annotations: readOnly,
    run: async (args) => ({ ...(await ctx.api.listLabs(args)) }),
  });

  defineTool(server, ctx, 'get_lab', {
    title: 'Get a lab',
    description:
      "A lab's current state: status, error, each VM (copy, status, VMID, management IP, SSH details, lab addresses per network, steps with timings), the lab's own tasks, and its networks and rules. The same document as the subscribable resource glassdome://labs/{labId}.",
    input: { labId: id('lab') },
    annotations: readOnly,
    run: async ({ labId }) => labState(ctx.api, labId),
  });

  defineTool(server, ctx, 'list_vms', {
    title: 'List standalone VMs',
    description: 'Standalone VMs (not part of a lab) with status, IP and steps.',
    input: { status: z.enum(VM_STATUSES).optional().describe('only VMs in this status'), ...paging },
    annotations: readOnly,
    run: async (args) => ({ ...(await ctx.api.listVms(args)) }),
  });

  defineTool(server, ctx, 'get_vm', {
    title: 'Get a VM',
    description:
      'One VM (standalone or in a lab): status, VMID, node, IP, SSH details, sizes, error, and every step with its timings.',
    input: { vmId: id('VM') },
    annotations: readOnly,
    run: async ({ vmId }) => ({ ...(await ctx.api.getVm(vmId)) }),
  });

  defineTool(server, ctx, 'lab_events', {
    title: 'Events of a lab',
    description:
      "A lab's timeline as recorded so far (requests, steps started and finished, retries, failures, remediations), oldest first, at most `limit` of the newest.",
    input: {
      labId: id('lab'),
      afterId: z.number().int().min(0).optional().describe('only events after this event id'),
      limit: z
        .number()
        .int()
        .min(1)
        .max(1000)
        .optional()
        .describe('at most this many of the newest events (default 200)'),
    },
    annotations: readOnly,
    run: async ({ labId, afterId, limit }) => {
      const { events, status } = await labEventsUpToNow(ctx.api, labId, {
        ...(afterId !== undefined ? { afterId } : {}),
        ...(limit !== undefined ? { limit } : {}),
      });
      return { labId, status: status ?? null, events };
    },
  });

  defineTool(server, ctx, 'list_alerts', {
    title: 'List alerts',
    description: "The overseer's alerts (drift, stuck steps, missing templates, unreachable guests), newest first.",
    input: {
      state: z.enum(['open', 'acknowledged', 'resolved']).optional(),
      severity: z.enum(['info', 'warning', 'critical']).optional(),
      limit: paging.limit,
    },
    annotations: readOnly,
    run: async (args) => ({ ...(await ctx.api.alerts(args)) }),
  });

  defineTool(server, ctx, 'overseer_report', {
    title: "The overseer's report",
    description: 'Labs and VMs by status, open alerts by severity, and the remediations of the last day.',
    input: {},
    annotations: readOnly,
    run: async () => ({ ...((await ctx.api.overseerReport()) as unknown as Record<string, unknown>) }),
  });

  if (options.systemStatus) {
    defineTool(server, ctx, 'queue_health', {
      title: 'Queue and stack health',
      description:
        'Redis and Postgres reachability, each queue with its waiting/active/delayed/failed jobs and connected workers, and the last overseer scan.',
      input: {},
      annotations: readOnly,
      run: async () => ({ ...(await ctx.api.systemStatus()) }),
    });
  }
}
