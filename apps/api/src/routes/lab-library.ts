/**
 * What labs are deployed from: a catalog template in full (`GET /lab-templates/:id`: its spec and the
 * parameters it takes, with defaults and bounds from its OS profiles and the caller's project quotas),
 * and each project's saved specs (`/lab-specs`), versioned: saving under an existing name adds a
 * version, and `POST /labs {"spec": name}` deploys the newest (or `version`).
 */
import {
  deleteLabSpec,
  getLabSpec,
  insertLabSpecVersion,
  inTransaction,
  listLabSpecs,
  listLabSpecVersions,
  toStoredJson,
} from '@glassdome/db';
import { decodeSpecText, describeLabParameters, parseLabSpec, resolveCatalogTemplate } from '@glassdome/lab';
import { type Request, Router } from 'express';
import { scopeOf } from '../auth/middleware';
import { projectOfRequest } from '../auth/projects';
import type { ApiContext } from '../context';
import { NotFoundError, ValidationError } from '../errors';
import { labSpecBody, labSpecParams, labSpecVersionParams, projectQuery, templateParams } from '../exercise-schemas';
import { accept, JSON_TYPES, YAML_TYPES } from '../http/body';
import { parseInput } from '../http/validate';
import { invalidSpec, projectQuotas, specQuotas } from '../services/exercises';

/** The spec input and its name and description from a YAML body or `{name?, description?, spec}`. */
function savedSpecOfRequest(req: Request): { name: string; description?: string; input: Record<string, unknown> } {
  if (typeof req.body === 'string') {
    const decoded = decodeSpecText(req.body, 'yaml');
    if (!decoded.ok) invalidSpec(decoded.issues);
    const input = decoded.value as Record<string, unknown>;
    if (typeof input !== 'object' || input === null || typeof input.name !== 'string') {
      throw new ValidationError([{ path: 'name', message: 'a saved spec needs a name' }]);
    }
    return { name: input.name, input };
  }
  const body = parseInput(labSpecBody, req.body ?? {}, 'body');
  const name = body.name ?? (typeof body.spec.name === 'string' ? body.spec.name : undefined);
  if (!name) throw new ValidationError([{ path: 'name', message: 'give a name, or a spec with one' }]);
  return { name, ...(body.description ? { description: body.description } : {}), input: { ...body.spec, name } };
}

function presentSavedSpec(row: NonNullable<Awaited<ReturnType<typeof getLabSpec>>>) {
  return {
    id: row.id,
    project: row.project,
    name: row.name,
    version: row.version,
    description: row.description,
    createdBy: row.created_by,
    createdAt: row.created_at,
    spec: row.spec,
  };
}

export function labLibraryRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.get('/lab-templates/:id', async (req, res) => {
    const { id } = parseInput(templateParams, req.params, 'params');
    const entry = resolveCatalogTemplate(id);
    if (!entry) throw new NotFoundError('lab template');
    const quotas = await projectQuotas(ctx, req.principal!.project);
    res.json({
      id: entry.id,
      title: entry.title,
      description: entry.description,
      spec: entry.spec,
      parameters: describeLabParameters(entry.spec, entry.parameters ?? {}, {
        maxCopies: quotas.maxCopies,
        maxTtlSeconds: quotas.maxLabTtlSeconds,
      }),
      deploy: { method: 'POST', path: '/api/v1/labs', body: { template: entry.id, parameters: {} } },
    });
  });

  router.get('/lab-specs', async (req, res) => {
    parseInput(projectQuery, req.query, 'query');
    const rows = await listLabSpecs(ctx.db, scopeOf(req));
    res.json({
      items: rows.map((row) => ({
        project: row.project,
        name: row.name,
        latestVersion: row.latest,
        versions: row.versions,
        updatedAt: row.updated_at,
      })),
    });
  });

  router.post('/lab-specs', accept([...JSON_TYPES, ...YAML_TYPES]), async (req, res) => {
    const query = parseInput(projectQuery, req.query, 'query');
    const project = await projectOfRequest(req, query.project);
    const saved = savedSpecOfRequest(req);
    // Saved only when it would deploy as it is (parameters can change it within its bounds later).
    const parsed = parseLabSpec(saved.input, { quotas: specQuotas(await projectQuotas(ctx, project)) });
    if (!parsed.ok) invalidSpec(parsed.issues);
    const { version, id } = await inTransaction(ctx.db, (trx) =>
      insertLabSpecVersion(trx, {
        project,
        name: saved.name,
        spec: toStoredJson(saved.input),
        description: saved.description ?? null,
        createdBy: req.principal!.keyId,
      }),
    );
    res
      .status(201)
      .location(`/api/v1/lab-specs/${saved.name}/versions/${version}`)
      .json({ id, project, name: saved.name, version });
  });

  router.get('/lab-specs/:name', async (req, res) => {
    const { name } = parseInput(labSpecParams, req.params, 'params');
    const query = parseInput(projectQuery, req.query, 'query');
    const where = { name, ...(query.project ? { project: query.project } : {}) };
    const latest = await getLabSpec(ctx.db, where, scopeOf(req));
    if (!latest) throw new NotFoundError('saved spec');
    const versions = await listLabSpecVersions(ctx.db, { name, project: latest.project }, scopeOf(req));
    res.json({
      ...presentSavedSpec(latest),
      versions: versions.map((v) => ({ version: v.version, description: v.description, createdAt: v.created_at })),
    });
  });

  router.get('/lab-specs/:name/versions/:version', async (req, res) => {
    const { name, version } = parseInput(labSpecVersionParams, req.params, 'params');
    const query = parseInput(projectQuery, req.query, 'query');
    const row = await getLabSpec(
      ctx.db,
      { name, version, ...(query.project ? { project: query.project } : {}) },
      scopeOf(req),
    );
    if (!row) throw new NotFoundError('saved spec version');
    res.json(presentSavedSpec(row));
  });

  router.delete('/lab-specs/:name', async (req, res) => {
    const { name } = parseInput(labSpecParams, req.params, 'params');
    const query = parseInput(projectQuery, req.query, 'query');
    const project = await projectOfRequest(req, query.project);
    const deleted = await deleteLabSpec(ctx.db, { name, project });
    if (deleted === 0) throw new NotFoundError('saved spec');
    res.json({ project, name, deletedVersions: deleted });
  });

  return router;
}
