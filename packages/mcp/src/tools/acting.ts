/**
 * Acting tools (deploy, retry, cancel, destroy; TTL, snapshot and reset where the API has them).
 * Each is two calls: without `confirm` it answers the plan and a short-lived confirmation token
 * bound to that plan and to the caller's key; with the token (and the same arguments) it recomputes
 * the plan, and acts only when the token is good for exactly that plan. It answers the id to follow.
 * Only operator and admin keys get these tools at all.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { LabDetail, OpenApiDocument } from '../api/client';
import { defineTool, type ToolContext } from './define';
import { planSummary, quotaCheck } from './design';
import { labBodyOf, labInput } from './lab-input';

const labId = z.string().uuid().describe("the lab's id (a UUID)");
const confirm = z
  .string()
  .max(200)
  .optional()
  .describe('the confirmation token from the previous call with the same arguments; leave out to get the plan first');

interface Planned {
  /** What the token is bound to: the action and the state it acts on. */
  plan: Record<string, unknown>;
  /** Shown with the plan but not bound (it may change without changing what the action does). */
  notes?: Record<string, unknown>;
}

interface ActingTool<Shape extends z.ZodRawShape> {
  title: string;
  description: string;
  input: Shape;
  destructive: boolean;
  plan: (args: z.infer<z.ZodObject<Shape>>) => Promise<Planned>;
  act: (args: z.infer<z.ZodObject<Shape>>) => Promise<Record<string, unknown>>;
}

function defineActingTool<Shape extends z.ZodRawShape>(
  server: McpServer,
  ctx: ToolContext,
  name: string,
  tool: ActingTool<Shape>,
): void {
  defineTool(server, ctx, name, {
    title: tool.title,
    description: `${tool.description} Two steps: call without confirm to get the plan and a confirmation token (valid ${Math.round(ctx.confirmations.ttlMs / 1000)} s, one use); show the plan to the user, then call again with the same arguments and confirm set to the token.`,
    input: { ...tool.input, confirm },
    annotations: {
      readOnlyHint: false,
      destructiveHint: tool.destructive,
      idempotentHint: false,
      openWorldHint: false,
    },
    run: async (args) => {
      const { confirm: token, ...rest } = args as { confirm?: string } & z.infer<z.ZodObject<Shape>>;
      const planned = await tool.plan(rest as z.infer<z.ZodObject<Shape>>);
      const bound = { tool: name, ...planned.plan };
      if (token === undefined) {
        const issued = ctx.confirmations.issue(bound, ctx.identity.keyId);
        return {
          confirmationRequired: true,
          plan: planned.plan,
          ...(planned.notes ? { notes: planned.notes } : {}),
          confirmation: issued,
          next: `to act, call ${name} again with the same arguments and confirm: "${issued.token}" before ${issued.expiresAt}`,
        };
      }
      ctx.confirmations.redeem(token, bound, ctx.identity.keyId);
      return { done: true, ...(await tool.act(rest as z.infer<z.ZodObject<Shape>>)) };
    },
  });
}

const followLab = (id: string) => ({
  resource: `glassdome://labs/${id}`,
  tools: ['get_lab', 'lab_events', 'explain_failure'],
});

function labHeader(lab: LabDetail) {
  return { id: lab.id, name: lab.name, status: lab.status };
}

/** The request body property the API takes for a value, when its document names one of `candidates`. */
function bodyField(document: OpenApiDocument, path: string, method: string, candidates: string[]): string | undefined {
  const schema = document.paths[path]?.[method]?.requestBody?.content?.['application/json']?.schema as
    | { properties?: Record<string, unknown> }
    | undefined;
  return candidates.find((candidate) => schema?.properties?.[candidate] !== undefined);
}

export function registerActingTools(server: McpServer, ctx: ToolContext, document: OpenApiDocument): void {
  const { api } = ctx;

  defineActingTool(server, ctx, 'deploy_lab', {
    title: 'Deploy a lab',
    description:
      'Deploys a lab spec (JSON or YAML) or a catalog lab: the plan is the API’s dry run (the normalised spec, tasks, totals against quotas); once confirmed, the lab is recorded and its deploy starts. Answers the lab id to follow (resource glassdome://labs/{id}).',
    input: labInput,
    destructive: false,
    plan: async (args) => {
      const dryRun = await api.dryRun(labBodyOf(args));
      const summary = planSummary(dryRun);
      return {
        plan: {
          action: 'deploy',
          name: summary.name,
          spec: dryRun.spec,
          totals: summary.totals,
          tasksByKind: summary.tasksByKind,
        },
        notes: {
          criticalPath: summary.criticalPath,
          quotas: await quotaCheck(api, ctx.identity.project, summary.totals),
        },
      };
    },
    act: async (args) => {
      const answer = await api.deployLab(labBodyOf(args));
      return { labId: answer.id, status: answer.status, follow: followLab(answer.id) };
    },
  });

  defineActingTool(server, ctx, 'retry_lab', {
    title: 'Retry a failed lab',
    description:
      'Runs again what failed in a failed or degraded lab (and what waited on it); steps that finished are kept.',
    input: { labId },
    destructive: false,
    plan: async ({ labId: id }) => {
      const lab = await api.getLab(id);
      const rerun = lab.vms
        .filter((vm) => vm.status === 'failed')
        .map((vm) => ({
          name: vm.name,
          copy: vm.copy,
          failedStep: vm.steps.find((step) => step.status === 'failed')?.name ?? null,
        }));
      return { plan: { action: 'retry', lab: labHeader(lab), rerun } };
    },
    act: async ({ labId: id }) => {
      const answer = await api.retryLab(id);
      return { labId: id, status: answer.status, requeuedVms: answer.requeuedVms ?? null, follow: followLab(id) };
    },
  });

  defineActingTool(server, ctx, 'cancel_lab', {
    title: 'Cancel a deploying lab',
    description: 'Stops the in-flight work of a lab that is deploying; the lab ends cancelled.',
    input: { labId },
    destructive: true,
    plan: async ({ labId: id }) => {
      const lab = await api.getLab(id);
      const inFlight = lab.vms.filter((vm) => !['ready', 'failed', 'destroyed'].includes(vm.status));
      return {
        plan: { action: 'cancel', lab: { id: lab.id, name: lab.name } },
        notes: {
          status: lab.status,
          inFlight: inFlight.map((vm) => ({ name: vm.name, copy: vm.copy, status: vm.status })),
        },
      };
    },
    act: async ({ labId: id }) => {
      const answer = await api.cancelLab(id);
      return { labId: id, status: answer.status, follow: followLab(id) };
    },
  });

  defineActingTool(server, ctx, 'destroy_lab', {
    title: 'Destroy a lab',
    description: 'Tears down everything a lab owns: every VM of every copy, its networks and leases.',
    input: { labId },
    destructive: true,
    plan: async ({ labId: id }) => {
      const lab = await api.getLab(id);
      return {
        plan: {
          action: 'destroy',
          lab: labHeader(lab),
          vms: lab.vms.map((vm) => ({ id: vm.id, name: vm.name, copy: vm.copy, vmid: vm.vmid })),
        },
      };
    },
    act: async ({ labId: id }) => {
      const answer = await api.destroyLab(id);
      return { labId: id, status: answer.status, jobId: answer.jobId ?? null, follow: followLab(id) };
    },
  });

  defineActingTool(server, ctx, 'destroy_vm', {
    title: 'Destroy a standalone VM',
    description: 'Stops and deletes one standalone VM (a lab’s VMs go with their lab: use destroy_lab).',
    input: { vmId: z.string().uuid().describe("the VM's id (a UUID)") },
    destructive: true,
    plan: async ({ vmId }) => {
      const vm = await api.getVm(vmId);
      return {
        plan: {
          action: 'destroy-vm',
          vm: { id: vm.id, name: vm.name, status: vm.status, vmid: vm.vmid, labId: vm.labId },
        },
      };
    },
    act: async ({ vmId }) => {
      const answer = await api.destroyVm(vmId);
      return { vmId, status: answer.status, jobId: answer.jobId ?? null, follow: { tools: ['get_vm'] } };
    },
  });

  registerOptionalActingTools(server, ctx, document);
}

/** Lab lifecycle edits the API may have (TTL, snapshots, reset): offered only when its document lists them. */
function registerOptionalActingTools(server: McpServer, ctx: ToolContext, document: OpenApiDocument): void {
  const { api } = ctx;
  // The API takes the new TTL as a duration from now ("30m", "8h", "2d") in the field `ttl`.
  if (bodyField(document, '/labs/{id}', 'patch', ['ttl'])) {
    defineActingTool(server, ctx, 'extend_lab_ttl', {
      title: 'Change a lab’s time to live',
      description:
        'Sets how long a lab lives from now (longer or shorter than before, within the project’s TTL quota), moving its expiry; the overseer tears it down then.',
      input: {
        labId,
        ttl: z
          .string()
          .regex(/^[1-9]\d{0,5}[mhd]$/, 'must be minutes, hours or days, e.g. "30m", "8h", "2d"')
          .describe('how long from now: minutes, hours or days, e.g. "30m", "8h", "2d"'),
      },
      destructive: false,
      plan: async ({ labId: id, ttl }) => {
        const lab = await api.getLab(id);
        return {
          plan: { action: 'set-ttl', lab: { id: lab.id, name: lab.name }, ttl },
          notes: { currentExpiresAt: lab.expiresAt },
        };
      },
      act: async ({ labId: id, ttl }) => {
        const answer = await api.request<Record<string, unknown>>('PATCH', `/labs/${id}`, { body: { ttl } });
        return { labId: id, expiresAt: answer.expiresAt ?? null, follow: followLab(id) };
      },
    });
  }
  if (document.paths['/labs/{id}/snapshots']?.post) {
    defineActingTool(server, ctx, 'snapshot_lab', {
      title: 'Snapshot a lab',
      description: 'Takes a named snapshot of every VM of a lab at once.',
      input: { labId, name: z.string().min(1).max(40).describe('the snapshot’s name') },
      destructive: false,
      plan: async ({ labId: id, name }) => {
        const lab = await api.getLab(id);
        return { plan: { action: 'snapshot', lab: labHeader(lab), snapshot: name, vms: lab.vms.length } };
      },
      act: async ({ labId: id, name }) => {
        const answer = await api.request<Record<string, unknown>>('POST', `/labs/${id}/snapshots`, { body: { name } });
        return { labId: id, answer, follow: followLab(id) };
      },
    });
  }
  if (document.paths['/labs/{id}/reset']?.post) {
    defineActingTool(server, ctx, 'reset_lab', {
      title: 'Reset a lab',
      description:
        'Reverts every VM of a lab to the snapshot taken when it first became ready; what was changed since is lost.',
      input: { labId },
      destructive: true,
      plan: async ({ labId: id }) => {
        const lab = await api.getLab(id);
        return {
          plan: { action: 'reset', lab: labHeader(lab), vms: lab.vms.map((vm) => ({ name: vm.name, copy: vm.copy })) },
        };
      },
      act: async ({ labId: id }) => {
        const answer = await api.request<Record<string, unknown>>('POST', `/labs/${id}/reset`, { body: {} });
        return { labId: id, answer, follow: followLab(id) };
      },
    });
  }
}
