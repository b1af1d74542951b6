import { randomUUID } from 'node:crypto';
import { appendEvent } from '@glassdome/db';
import { Router } from 'express';
import { requireRole } from '../auth/middleware';
import type { ApiContext } from '../context';
import { accept, JSON_TYPES } from '../http/body';
import { parseInput } from '../http/validate';
import { PERMISSION_ROLES, permissionGrantBody } from '../schemas';
import { enqueueOrUndo, requireRedis } from '../services/enqueue';

/**
 * POST /permissions (admin): records the request in the timeline, commits, then asks the gateway
 * to grant exactly the listed privileges (or a named least-privilege bundle) on one path.
 */
export function permissionRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.post('/permissions', requireRole('admin'), accept(JSON_TYPES), async (req, res) => {
    const body = parseInput(permissionGrantBody, req.body, 'body');
    const privileges = [...(body.privileges ?? PERMISSION_ROLES[body.role!])];
    const reason = body.reason ?? `granted through the API by ${req.principal!.name}`;
    requireRedis(ctx.producer);
    const jobId = `permission-grant.${randomUUID()}`;
    const audit = { principal: body.principal, path: body.path, privileges, jobId };
    await appendEvent(ctx.db, {
      kind: 'permission.requested',
      message: `grant on ${body.path} requested`,
      data: audit,
    });
    await enqueueOrUndo(
      req,
      () =>
        ctx.producer.enqueue(
          'permission.grant',
          {
            platformId: ctx.platformId,
            principal: body.principal,
            path: body.path,
            privileges,
            reason,
            requestId: req.id,
          },
          { jobId },
        ),
      () => appendEvent(ctx.db, { kind: 'permission.not-queued', message: 'Redis refused the job', data: { jobId } }),
    );
    res.status(202).json({ status: 'queued', jobId, privileges });
  });
  return router;
}
