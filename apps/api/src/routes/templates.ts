import {
  appendEvent,
  deleteTemplate,
  deleteTemplateIn,
  findTemplate,
  getTemplate,
  insertTemplate,
  listTemplates,
  moveTemplateStatus,
  projectInScope,
  setTemplatePublished,
} from '@glassdome/db';
import { defaultTemplateVmid } from '@glassdome/lab';
import { type Request, Router } from 'express';
import { requireRole, scopeOf } from '../auth/middleware';
import { projectOfRequest } from '../auth/projects';
import type { ApiContext } from '../context';
import { ConflictError, NotFoundError } from '../errors';
import { accept, JSON_TYPES } from '../http/body';
import { parseInput } from '../http/validate';
import { idParams, templateCreateBody, templatePublishBody } from '../schemas';
import { enqueueOrUndo, requireRedis } from '../services/enqueue';

/**
 * A template the caller's project owns (admins: any). A published template of another project can be
 * cloned but not retried, deleted or published by it: for those it is not found.
 */
async function ownTemplate(ctx: ApiContext, req: Request, id: string) {
  const template = await getTemplate(ctx.db, id, scopeOf(req));
  const scope = scopeOf(req);
  if (!template || (scope.kind !== 'all' && !projectInScope(scope, template.project))) {
    throw new NotFoundError('template');
  }
  return template;
}

export function templateRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.post('/templates', accept(JSON_TYPES), async (req, res) => {
    const body = parseInput(templateCreateBody, req.body, 'body');
    const node = body.node ?? ctx.node;
    const project = await projectOfRequest(req, body.project);
    requireRedis(ctx.producer);
    const vmid = body.vmid ?? defaultTemplateVmid(body.os);
    const id = await insertTemplate(ctx.db, {
      platformId: ctx.platformId,
      node,
      os: body.os,
      vmid,
      name: `tpl-${body.os.replaceAll('.', '-')}`,
      project,
    }).catch((error: { code?: string }) => {
      // Another project registered that VMID: one VMID is one template.
      if (error.code === '23505') throw new ConflictError(`VMID ${vmid} is registered already; give another vmid`);
      throw error;
    });
    if (!id) {
      const existing = await findTemplate(ctx.db, { platformId: ctx.platformId, node, os: body.os, project });
      throw new ConflictError(`a ${body.os} template on ${node} already exists`, {
        id: existing?.id,
        status: existing?.status,
      });
    }
    const jobId = `template-create.${id}`;
    await enqueueOrUndo(
      req,
      () => ctx.producer.enqueue('template.create', { templateId: id, requestId: req.id }, { jobId }),
      () => deleteTemplate(ctx.db, id),
    );
    await appendEvent(ctx.db, {
      kind: 'template.requested',
      message: `${body.os} template on ${node} requested`,
      project,
    });
    res.status(202).json({ id, status: 'queued', jobId, project });
  });

  // A failed build runs again as a new job (the gateway removes what the failed one half-built).
  router.post('/templates/:id/retry', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    requireRedis(ctx.producer);
    const template = await ownTemplate(ctx, req, id);
    if (!(await moveTemplateStatus(ctx.db, id, { from: ['failed'], to: 'queued' }))) {
      throw new ConflictError(`only a failed template can be retried; this one is ${template.status}`, {
        id,
        status: template.status,
      });
    }
    // Each retry is a job of its own: the failed one's id stays taken in the queue.
    const jobId = `template-create.${id}.retry-${Date.now()}`;
    await enqueueOrUndo(
      req,
      () => ctx.producer.enqueue('template.create', { templateId: id, requestId: req.id }, { jobId }),
      () => moveTemplateStatus(ctx.db, id, { from: ['queued'], to: 'failed', error: template.error }),
    );
    await appendEvent(ctx.db, {
      kind: 'template.retried',
      message: `${template.os} template on ${template.node} queued again`,
      project: template.project,
    });
    res.status(202).json({ id, status: 'queued', jobId });
  });

  // Only a failed template goes: a ready one is what clones come from, and a build in flight owns its row.
  router.delete('/templates/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    const template = await ownTemplate(ctx, req, id);
    if (!(await deleteTemplateIn(ctx.db, id, ['failed']))) {
      throw new ConflictError(`only a failed template can be deleted; this one is ${template.status}`, {
        id,
        status: template.status,
      });
    }
    await appendEvent(ctx.db, {
      kind: 'template.deleted',
      message: `failed ${template.os} template on ${template.node} deleted; a new build may be requested`,
      project: template.project,
    });
    res.status(204).end();
  });

  // Published templates are usable (and listed) in every project; only an admin publishes.
  router.post('/templates/:id/publish', requireRole('admin'), accept(JSON_TYPES), async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    const body = parseInput(templatePublishBody, req.body, 'body');
    if (!(await setTemplatePublished(ctx.db, id, body.published))) throw new NotFoundError('template');
    req.log.info({ templateId: id, published: body.published }, 'template publication changed');
    res.json({ id, published: body.published });
  });

  router.get('/templates', async (req, res) => {
    const templates = await listTemplates(ctx.db, scopeOf(req));
    res.json({
      items: templates.map((t) => ({
        id: t.id,
        project: t.project,
        published: t.published,
        os: t.os,
        node: t.node,
        vmid: t.vmid,
        name: t.name,
        status: t.status,
        error: t.error,
        createdAt: t.created_at,
        updatedAt: t.updated_at,
      })),
    });
  });
  return router;
}
