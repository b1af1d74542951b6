/**
 * Projects and their quotas. Admins list projects and set quotas; a project's own keys may read its
 * quotas and usage. Another project's quotas are a 404, as any resource outside the caller's scope.
 */
import { getProject, listProjects, projectUsage, setProjectQuotas } from '@glassdome/db';
import { type Request, Router } from 'express';
import { requireRole } from '../auth/middleware';
import type { ApiContext } from '../context';
import { NotFoundError } from '../errors';
import { accept, JSON_TYPES } from '../http/body';
import { parseInput } from '../http/validate';
import { emptyQuery, projectParams, projectQuotasBody } from '../schemas';
import { effectiveQuotas } from '../services/quotas';

async function quotasOf(ctx: ApiContext, name: string) {
  const project = await getProject(ctx.db, name);
  if (!project) throw new NotFoundError('project');
  return {
    project: name,
    quotas: effectiveQuotas(ctx.quotas, project.quotas),
    overrides: project.quotas,
    usage: await projectUsage(ctx.db, name),
  };
}

function readableProject(req: Request): string {
  const { name } = parseInput(projectParams, req.params, 'params');
  const principal = req.principal!;
  if (principal.role !== 'admin' && (principal.project !== name || principal.role === 'trainee')) {
    throw new NotFoundError('project');
  }
  return name;
}

export function projectRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.get('/projects', requireRole('admin'), async (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    const projects = await listProjects(ctx.db);
    res.json({
      items: projects.map((project) => ({
        name: project.name,
        createdAt: project.createdAt,
        quotas: effectiveQuotas(ctx.quotas, project.quotas),
      })),
    });
  });

  router.get('/projects/:name/quotas', async (req, res) => {
    res.json(await quotasOf(ctx, readableProject(req)));
  });

  router.put('/projects/:name/quotas', requireRole('admin'), accept(JSON_TYPES), async (req, res) => {
    const { name } = parseInput(projectParams, req.params, 'params');
    const body = parseInput(projectQuotasBody, req.body, 'body');
    await setProjectQuotas(ctx.db, name, body);
    req.log.info({ quotaProject: name, quotas: body }, 'project quotas set');
    res.json(await quotasOf(ctx, name));
  });
  return router;
}
