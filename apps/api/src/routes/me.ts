/**
 * `GET /api/v1/me`: who the calling key is (id, name, role, project, a trainee key's lab copy), so a
 * client holding only a key — the MCP server over stdio, a script — can tell what it may do.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context';
import { parseInput } from '../http/validate';
import { emptyQuery } from '../schemas';

export const meResponse = z.object({
  keyId: z.string(),
  name: z.string(),
  role: z.string(),
  /** The project the key acts in (an admin's acts in every project). */
  project: z.string(),
  /** A trainee key's one lab copy. */
  labCopy: z.object({ labId: z.string(), copy: z.number().int() }).optional(),
});

export function meRoutes(_ctx: ApiContext): Router {
  const router = Router();
  router.get('/me', (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    const principal = req.principal as NonNullable<typeof req.principal> & {
      project?: string;
      labCopy?: { labId: string; copy: number };
    };
    res.set('Cache-Control', 'no-store').json(
      meResponse.parse({
        keyId: principal.keyId,
        name: principal.name,
        role: principal.role,
        project: principal.project ?? 'default',
        ...(principal.labCopy ? { labCopy: principal.labCopy } : {}),
      }),
    );
  });
  return router;
}
