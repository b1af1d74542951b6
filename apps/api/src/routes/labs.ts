import { getLab, listLabs, listShownStepsOfLab, listShownVmsOfLab } from '@glassdome/db';
import { LAB_CATALOG, type LabSpec, parseLabSpec } from '@glassdome/lab';
import { type LabSourceRef, resolveLabSource } from '@glassdome/lab-run';
import { type Request, type Response, Router } from 'express';
import { scopeOf } from '../auth/middleware';
import { projectOfRequest } from '../auth/projects';
import type { ApiContext } from '../context';
import { NotFoundError } from '../errors';
import { labFromReferenceBody } from '../exercise-schemas';
import { accept, JSON_TYPES, YAML_TYPES } from '../http/body';
import { parseInput } from '../http/validate';
import { sendJson } from '../json';
import { presentLab, presentVm, stepsForReader } from '../present';
import { redactorFor } from '../redact';
import { idParams, labCreateQuery, labListQuery } from '../schemas';
import {
  type DeployExtras,
  deployResolvedLab,
  invalidSpec,
  labExtrasView,
  projectQuotas,
  specQuotas,
} from '../services/exercises';
import { planLab } from '../services/lab-plan';
import { requireRegisteredTemplates } from '../services/template-check';

/** A body naming what to deploy rather than holding a spec: `{"template": id}` or `{"spec": saved name}`. */
function isReference(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  return 'template' in body || ('spec' in body && typeof (body as { spec: unknown }).spec === 'string');
}

/**
 * The spec a POST /labs asks for: YAML text, a JSON spec, a catalog template or a saved spec of the
 * project (`{"template": id}` / `{"spec": name, "version"?}`), each by reference with optional
 * `parameters` (copies, ttl, trainee keys, sizes). Copies, TTL and totals are checked against the
 * project's quotas, not fixed limits.
 */
async function deploymentOfRequest(
  ctx: ApiContext,
  req: Request,
  project: string,
): Promise<{ spec: LabSpec; extras: DeployExtras }> {
  const quotas = specQuotas(await projectQuotas(ctx, project));
  if (isReference(req.body)) {
    const body = parseInput(labFromReferenceBody, req.body, 'body');
    const parameters = { ...(body.parameters ?? {}), ...(body.name ? { name: body.name } : {}) };
    const ref: LabSourceRef =
      'template' in body
        ? { template: body.template, parameters }
        : { spec: body.spec, ...(body.version ? { version: body.version } : {}), parameters };
    const resolved = await resolveLabSource(ctx.db, ref, { scope: { kind: 'project', project }, quotas });
    if (!resolved.ok) invalidSpec(resolved.issues);
    return { spec: resolved.spec, extras: { trainee: resolved.trainee, source: resolved.source } };
  }
  const parsed =
    typeof req.body === 'string'
      ? parseLabSpec(req.body, { contentType: 'yaml', quotas })
      : parseLabSpec(req.body, { quotas });
  if (!parsed.ok) invalidSpec(parsed.issues);
  return { spec: parsed.spec, extras: {} };
}

/**
 * A lab as the reader may see it: a trainee sees its copy's VMs only, and neither the graph nor the
 * lab-wide tasks (they name every copy); provisioning text is masked for all but its creator and admins.
 * Its steps are JSON text (answer with `sendJson`).
 */
async function labDetail(ctx: ApiContext, req: Request, id: string) {
  const scope = scopeOf(req);
  const lab = await getLab(ctx.db, id, scope);
  if (!lab) throw new NotFoundError('lab');
  const redactor = redactorFor(req.principal!, lab.created_by, lab.spec);
  const vms = await listShownVmsOfLab(ctx.db, id, scope, ctx.guestSshPort);
  const wholeLab = scope.kind !== 'copy';
  return {
    ...presentLab(lab, redactor),
    graph: wholeLab ? lab.graph : undefined,
    // The last isolation check (every probe's expected and observed verdict); null until one ran.
    isolation: wholeLab ? (lab.isolation ?? null) : undefined,
    // Exercise state: first ready (its initial snapshot), testing mode, source, pool claim.
    ...labExtrasView(lab),
    steps: wholeLab ? stepsForReader(await listShownStepsOfLab(ctx.db, id), redactor) : [],
    vms: vms.map((vm) => presentVm(vm, redactor)),
  };
}

const LAB_BODY_TYPES = [...JSON_TYPES, ...YAML_TYPES];

/** POST /labs: validate, then either answer with the plan (dryRun) or record the lab and start its flow. */
async function createLab(ctx: ApiContext, req: Request, res: Response) {
  const query = parseInput(labCreateQuery, req.query, 'query');
  const project = await projectOfRequest(req, query.project);
  const { spec, extras } = await deploymentOfRequest(ctx, req, project);
  await requireRegisteredTemplates(
    ctx,
    { kind: 'project', project },
    spec.vms.flatMap((vm, index) =>
      vm.template === undefined ? [] : [{ path: `vms.${index}.template`, ref: vm.template }],
    ),
  );
  if (query.dryRun) {
    // The plan is the answer only here: a deploy compiles the graph it records itself.
    const plan = planLab(spec);
    res.json({ dryRun: true, spec, tasks: plan.graph.tasks, edges: plan.edges, criticalPath: plan.criticalPath });
    return;
  }
  const id = await deployResolvedLab(ctx, req, spec, project, extras);
  res.status(202).location(`/api/v1/labs/${id}`).json({ id, status: 'queued', project });
}

/** Glassdome's original path: `POST /api/labs/deploy` is POST /api/v1/labs. */
export function labAliasRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.post('/labs/deploy', accept(LAB_BODY_TYPES), (req, res) => createLab(ctx, req, res));
  return router;
}

export function labRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.post('/labs', accept(LAB_BODY_TYPES), (req, res) => createLab(ctx, req, res));

  router.get('/labs', async (req, res) => {
    const query = parseInput(labListQuery, req.query, 'query');
    const { items: labs, nextCursor } = await listLabs(ctx.db, query, scopeOf(req));
    res.json({
      items: labs.map((lab) => presentLab(lab, redactorFor(req.principal!, lab.created_by, lab.spec))),
      limit: query.limit,
      offset: query.offset,
      nextCursor,
    });
  });

  router.get('/labs/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    sendJson(res, await labDetail(ctx, req, id));
  });

  router.get('/lab-templates', (_req, res) => {
    res.json({
      items: LAB_CATALOG.map((entry) => ({
        id: entry.id,
        title: entry.title,
        description: entry.description,
        vmCount: entry.spec.vms.reduce((sum, vm) => sum + (vm.count ?? 1), 0) * (entry.spec.copies ?? 1),
      })),
    });
  });
  return router;
}
