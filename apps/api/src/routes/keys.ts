import { getLab, listApiKeys, revokeApiKey } from '@glassdome/db';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { DEFAULT_PROJECT, generateApiKey, keyPrefix, storeApiKey } from '../auth/keys';
import { principalFields, requireRole, scopeOf } from '../auth/middleware';
import type { ApiContext } from '../context';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { accept, JSON_TYPES } from '../http/body';
import { withholdFromReplay } from '../http/idempotency';
import { parseInput } from '../http/validate';
import { apiKeyCreateBody, idParams, traineeKeyCreateBody } from '../schemas';

type KeyRow = Awaited<ReturnType<typeof listApiKeys>>[number];

function presentKey(k: KeyRow) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    role: k.role,
    project: k.project,
    ...(k.lab_id ? { labId: k.lab_id, copy: k.copy } : {}),
    createdAt: k.created_at,
    lastUsedAt: k.last_used_at,
    revokedAt: k.revoked_at,
  };
}

/**
 * API key management (admin only). A new key is in the creation answer and nowhere else, ever: not
 * in logs, and not in a stored idempotent answer (a replay answers without it).
 */
export function keyRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.use('/keys', requireRole('admin'));

  router.post('/keys', accept(JSON_TYPES), async (req, res) => {
    const body = parseInput(apiKeyCreateBody, req.body, 'body');
    const project = body.project ?? DEFAULT_PROJECT;
    const key = generateApiKey();
    const id = await storeApiKey(ctx.db, key, body.name, body.role, { project });
    req.log.info({ keyId: id, role: body.role, keyProject: project }, 'api key created');
    withholdFromReplay(res, ['key']);
    res.status(201).json({ id, name: body.name, role: body.role, project, prefix: keyPrefix(key), key });
  });

  router.get('/keys', async (_req, res) => {
    res.json({ items: (await listApiKeys(ctx.db)).map(presentKey) });
  });

  router.delete('/keys/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    if (!(await revokeApiKey(ctx.db, id))) throw new NotFoundError('live API key');
    res.json({ id, revoked: true });
  });
  return router;
}

const traineeKeyParams = z.strictObject({ id: z.uuid('must be a UUID'), keyId: z.uuid('must be a UUID') });

async function labInScope(ctx: ApiContext, req: Request) {
  const { id } = parseInput(idParams, { id: req.params.id }, 'params');
  const lab = await getLab(ctx.db, id, scopeOf(req));
  if (!lab) throw new NotFoundError('lab');
  return lab;
}

/** POST /labs/:id/trainee-keys: a key that reads one copy of the lab, to hand to one trainee. */
async function createTraineeKey(ctx: ApiContext, req: Request, res: Response) {
  const lab = await labInScope(ctx, req);
  const body = parseInput(traineeKeyCreateBody, req.body, 'body');
  if (body.copy >= lab.copies) {
    throw new ValidationError([{ path: 'copy', message: `the lab has copies 0 to ${lab.copies - 1}` }]);
  }
  if (lab.status === 'destroying' || lab.status === 'destroyed') throw new ConflictError(`the lab is ${lab.status}`);
  const key = generateApiKey();
  const name = body.name ?? `trainee-c${body.copy}`;
  const id = await storeApiKey(ctx.db, key, name, 'trainee', {
    project: lab.project,
    labCopy: { labId: lab.id, copy: body.copy },
  });
  req.log.info(
    { keyId: id, labId: lab.id, copy: body.copy, by: principalFields(req.principal!) },
    'trainee key created',
  );
  withholdFromReplay(res, ['key']);
  res.status(201).json({
    id,
    name,
    role: 'trainee',
    project: lab.project,
    labId: lab.id,
    copy: body.copy,
    prefix: keyPrefix(key),
    key,
  });
}

/** Trainee keys of a lab, for an operator of its project (or an admin): create, list, revoke. */
export function traineeKeyRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.use('/labs/:id/trainee-keys', requireRole('operator'));
  router.post('/labs/:id/trainee-keys', accept(JSON_TYPES), (req, res) => createTraineeKey(ctx, req, res));
  router.get('/labs/:id/trainee-keys', async (req, res) => {
    const lab = await labInScope(ctx, req);
    const keys = (await listApiKeys(ctx.db, lab.project)).filter((k) => k.lab_id === lab.id);
    res.json({ items: keys.map(presentKey) });
  });
  router.delete('/labs/:id/trainee-keys/:keyId', async (req, res) => {
    const { keyId } = parseInput(traineeKeyParams, req.params, 'params');
    const lab = await labInScope(ctx, req);
    const key = (await listApiKeys(ctx.db, lab.project)).find((k) => k.id === keyId && k.lab_id === lab.id);
    if (!key || !(await revokeApiKey(ctx.db, keyId))) throw new NotFoundError('live trainee key');
    res.json({ id: keyId, revoked: true });
  });
  return router;
}
