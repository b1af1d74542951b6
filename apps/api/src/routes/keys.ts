import { listApiKeys, revokeApiKey } from '@glassdome/db';
import { Router } from 'express';
import { generateApiKey, keyPrefix, storeApiKey } from '../auth/keys';
import { requireRole } from '../auth/middleware';
import type { ApiContext } from '../context';
import { NotFoundError } from '../errors';
import { accept, JSON_TYPES } from '../http/body';
import { parseInput } from '../http/validate';
import { apiKeyCreateBody, idParams } from '../schemas';

/** API key management (admin only). A new key is in the creation answer and nowhere else, ever. */
export function keyRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.use('/keys', requireRole('admin'));

  router.post('/keys', accept(JSON_TYPES), async (req, res) => {
    const body = parseInput(apiKeyCreateBody, req.body, 'body');
    const key = generateApiKey();
    const id = await storeApiKey(ctx.db, key, body.name, body.role);
    req.log.info({ keyId: id, role: body.role }, 'api key created');
    res.status(201).json({ id, name: body.name, role: body.role, prefix: keyPrefix(key), key });
  });

  router.get('/keys', async (_req, res) => {
    const keys = await listApiKeys(ctx.db);
    res.json({
      items: keys.map((k) => ({
        id: k.id,
        name: k.name,
        prefix: k.prefix,
        role: k.role,
        createdAt: k.created_at,
        lastUsedAt: k.last_used_at,
        revokedAt: k.revoked_at,
      })),
    });
  });

  router.delete('/keys/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    if (!(await revokeApiKey(ctx.db, id))) throw new NotFoundError('live API key');
    res.json({ id, revoked: true });
  });
  return router;
}
