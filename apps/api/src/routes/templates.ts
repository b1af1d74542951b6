import {
  appendEvent,
  deleteTemplate,
  deleteTemplateIn,
  findTemplate,
  getTemplate,
  insertTemplate,
  listTemplates,
  moveTemplateStatus,
} from '@glassdome/db';
import { OS_NAMES } from '@glassdome/lab';
import { Router } from 'express';
import type { ApiContext } from '../context';
import { ConflictError, NotFoundError } from '../errors';
import { accept, JSON_TYPES } from '../http/body';
import { parseInput } from '../http/validate';
import { idParams, templateCreateBody } from '../schemas';
import { enqueueOrUndo, requireRedis } from '../services/enqueue';

/** Templates sit at 9000 + the OS's position, a range operators conventionally keep for templates. */
const TEMPLATE_VMID_BASE = 9000;

export function templateRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.post('/templates', accept(JSON_TYPES), async (req, res) => {
    const body = parseInput(templateCreateBody, req.body, 'body');
    const node = body.node ?? ctx.node;
    requireRedis(ctx.producer);
    const id = await insertTemplate(ctx.db, {
      platformId: ctx.platformId,
      node,
      os: body.os,
      vmid: body.vmid ?? TEMPLATE_VMID_BASE + OS_NAMES.indexOf(body.os),
      name: `tpl-${body.os.replaceAll('.', '-')}`,
    });
    if (!id) {
      const existing = await findTemplate(ctx.db, { platformId: ctx.platformId, node, os: body.os });
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
    await appendEvent(ctx.db, { kind: 'template.requested', message: `${body.os} template on ${node} requested` });
    res.status(202).json({ id, status: 'queued', jobId });
  });

  // A failed build runs again as a new job (the gateway removes what the failed one half-built).
  router.post('/templates/:id/retry', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    requireRedis(ctx.producer);
    const template = await getTemplate(ctx.db, id);
    if (!template) throw new NotFoundError('template');
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
    });
    res.status(202).json({ id, status: 'queued', jobId });
  });

  // Only a failed template goes: a ready one is what clones come from, and a build in flight owns its row.
  router.delete('/templates/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    const template = await getTemplate(ctx.db, id);
    if (!template) throw new NotFoundError('template');
    if (!(await deleteTemplateIn(ctx.db, id, ['failed']))) {
      throw new ConflictError(`only a failed template can be deleted; this one is ${template.status}`, {
        id,
        status: template.status,
      });
    }
    await appendEvent(ctx.db, {
      kind: 'template.deleted',
      message: `failed ${template.os} template on ${template.node} deleted; a new build may be requested`,
    });
    res.status(204).end();
  });

  router.get('/templates', async (_req, res) => {
    const templates = await listTemplates(ctx.db);
    res.json({
      items: templates.map((t) => ({
        id: t.id,
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
