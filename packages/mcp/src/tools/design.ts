/**
 * Design tools, all on the API's dry run (`POST /labs?dryRun=true`, which writes nothing):
 * validate a spec (every error with its path), plan it (tasks, edges, critical path, resource totals
 * against the project's quotas) and diff two specs.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { DryRun, GlassdomeApi } from '../api/client';
import { ApiCallError, fieldIssues } from '../api/errors';
import { diffLabSpecs } from '../design/spec-diff';
import { type LabTotals, labTotals, type NormalisedSpec } from '../design/spec-facts';
import { defineTool, type ToolContext } from './define';
import { labBodyOf, labInput } from './lab-input';

const readOnly = { readOnlyHint: true, openWorldHint: false } as const;

interface ProjectQuotas {
  project: string;
  quotas: Record<string, number>;
  usage: Record<string, number>;
}

/** Quota name → the total it limits (usage and request share the unit). */
const QUOTA_TOTALS: Record<string, keyof LabTotals> = {
  maxVms: 'vms',
  maxCopies: 'copies',
  maxVcpus: 'vcpus',
  maxMemoryMiB: 'memoryMiB',
};

/** The plan's totals against the project's quotas, where the API serves them (`GET /projects/{name}/quotas`). */
export async function quotaCheck(api: GlassdomeApi, project: string, totals: LabTotals) {
  if (!(await api.has('GET', '/projects/{name}/quotas'))) return null;
  let answer: ProjectQuotas;
  try {
    answer = await api.request<ProjectQuotas>('GET', `/projects/${encodeURIComponent(project)}/quotas`);
  } catch (error) {
    if (error instanceof ApiCallError && (error.status === 404 || error.status === 403)) return null;
    throw error;
  }
  const checks = Object.entries(QUOTA_TOTALS)
    .filter(([quota]) => typeof answer.quotas[quota] === 'number')
    .map(([quota, total]) => {
      const limit = answer.quotas[quota]!;
      const inUse = Number(answer.usage[total] ?? 0);
      const requested = Number(totals[total] ?? 0);
      return { quota, limit, inUse, requested, fits: inUse + requested <= limit };
    });
  const ttlLimit = answer.quotas.maxLabTtlSeconds;
  if (typeof ttlLimit === 'number' && totals.ttlSeconds !== null) {
    checks.push({
      quota: 'maxLabTtlSeconds',
      limit: ttlLimit,
      inUse: 0,
      requested: totals.ttlSeconds,
      fits: totals.ttlSeconds <= ttlLimit,
    });
  }
  return { project: answer.project, fits: checks.every((check) => check.fits), checks };
}

export function planSummary(dryRun: DryRun) {
  const spec = dryRun.spec as unknown as NormalisedSpec;
  const kinds: Record<string, number> = {};
  for (const task of dryRun.tasks) kinds[task.kind] = (kinds[task.kind] ?? 0) + 1;
  return { name: spec.name, totals: labTotals(spec), tasksByKind: kinds, criticalPath: dryRun.criticalPath };
}

async function normalised(
  api: GlassdomeApi,
  input: Parameters<typeof labBodyOf>[0],
  fields: [string, string],
): Promise<NormalisedSpec> {
  return (await api.dryRun(labBodyOf(input, fields))).spec as unknown as NormalisedSpec;
}

export function registerDesignTools(server: McpServer, ctx: ToolContext): void {
  defineTool(server, ctx, 'validate_lab_spec', {
    title: 'Validate a lab spec',
    description:
      'Checks a lab spec (JSON object or YAML) the way a deploy would, without deploying: answers valid, or every error with the path of the field it is about (e.g. vms.1.networks.0).',
    input: { spec: labInput.spec.unwrap() },
    annotations: readOnly,
    run: async ({ spec }) => {
      try {
        const dryRun = await ctx.api.dryRun(labBodyOf({ spec }));
        return { valid: true, errors: [], ...planSummary(dryRun) };
      } catch (error) {
        if (error instanceof ApiCallError && error.status === 400) {
          return { valid: false, message: error.message, errors: fieldIssues(error.details) };
        }
        throw error;
      }
    },
  });

  defineTool(server, ctx, 'plan_lab', {
    title: 'Plan a lab (dry run)',
    description:
      "What deploying a spec or catalog lab would do, without doing it: every task (networks, VM provisioning and configuration, isolation check) with its dependency edges, the critical path with an estimate, the resource totals over all copies, and those totals against the project's quotas where the API reports them.",
    input: labInput,
    annotations: readOnly,
    run: async (args) => {
      const dryRun = await ctx.api.dryRun(labBodyOf(args));
      const summary = planSummary(dryRun);
      return {
        ...summary,
        quotas: await quotaCheck(ctx.api, ctx.identity.project, summary.totals),
        tasks: dryRun.tasks,
        edges: dryRun.edges,
        spec: dryRun.spec,
      };
    },
  });

  defineTool(server, ctx, 'diff_lab_spec', {
    title: 'Diff two lab specs',
    description:
      'What would change going from one lab spec to another (each a spec or a catalog lab id, compared after the API fills in defaults): settings, networks, VMs and their sizes, rules, and the totals before and after.',
    input: {
      from: labInput.spec.describe('the current spec (JSON object or YAML)'),
      fromTemplate: labInput.template.describe('or: a catalog lab id as the current spec'),
      to: labInput.spec.describe('the proposed spec (JSON object or YAML)'),
      toTemplate: labInput.template.describe('or: a catalog lab id as the proposed spec'),
    },
    annotations: readOnly,
    run: async ({ from, fromTemplate, to, toTemplate }) => {
      const [before, after] = await Promise.all([
        normalised(ctx.api, { spec: from, template: fromTemplate }, ['from', 'fromTemplate']),
        normalised(ctx.api, { spec: to, template: toTemplate }, ['to', 'toTemplate']),
      ]);
      return { ...diffLabSpecs(before, after) };
    },
  });
}
