/**
 * `/api/v1/session`: the web UI's sign-in (an API key exchanged for an HttpOnly cookie), who is signed
 * in, and sign-out. The key is read once from the request body and never stored or echoed; the cookie
 * holds only a signed key id (see auth/session.ts).
 */
import type { Db } from '@glassdome/db';
import express, { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { principalOfKey } from '../auth/keys';
import { authenticate, CSRF_HEADER, principalFields, principalOfSession } from '../auth/middleware';
import { clearSessionCookie, type SessionStore, setSessionCookie } from '../auth/session';
import { ApiError, UnauthorizedError } from '../errors';
import { accept, JSON_TYPES } from '../http/body';
import { parseInput } from '../http/validate';

export const sessionCreateBody = z.strictObject({
  /** The API key to sign in with (`gd_…`); exchanged for the session cookie, never kept. */
  apiKey: z.string().min(1, 'is required').max(512),
});

export const sessionResponse = z.object({
  keyId: z.string(),
  name: z.string(),
  role: z.enum(['trainee', 'viewer', 'operator', 'admin']),
  /** The project the key acts in. */
  project: z.string(),
  /** When the session ends (ISO 8601); sign in again after it. */
  expiresAt: z.string(),
});

/** A closer the terminal routes register, so sign-out ends the terminals of that session at once. */
export type SessionEndListener = (nonce: string) => void;

function answer(
  res: Response,
  status: number,
  principal: { keyId: string; name: string; role: string; project: string },
  exp: number,
) {
  const { keyId, name, role, project } = principal;
  res
    .status(status)
    .set('Cache-Control', 'no-store')
    .json(sessionResponse.parse({ keyId, name, role, project, expiresAt: new Date(exp * 1000).toISOString() }));
}

export interface SessionRouteDeps {
  db: Db;
  sessions: SessionStore;
  /** Applied to sign-in before the key is looked up (the per-key limiter cannot apply yet). */
  limiter: express.RequestHandler;
  onSessionEnd?: SessionEndListener;
}

export function sessionRoutes(deps: SessionRouteDeps): Router {
  const router = Router();
  const json = express.json({ limit: 4096, type: JSON_TYPES });

  router.post('/session', deps.limiter, accept(JSON_TYPES), json, async (req: Request, res: Response) => {
    if (!req.is(JSON_TYPES)) throw new ApiError(415, 'unsupported_media_type', 'Content-Type must be application/json');
    const body = parseInput(sessionCreateBody, req.body, 'body');
    const principal = await principalOfKey(deps.db, body.apiKey);
    if (!principal) throw new UnauthorizedError('the API key is unknown or revoked');
    const { cookie, claims } = deps.sessions.issue(principal.keyId);
    setSessionCookie(req, res, cookie, deps.sessions.lifetimeSeconds);
    req.log.info({ principal: principalFields(principal) }, 'web session started');
    answer(res, 201, principal, claims.expiresAt);
  });

  router.get('/session', authenticate(deps.db, deps.sessions), (req: Request, res: Response) => {
    const expiresAt = req.webSession?.expiresAt;
    if (expiresAt === undefined) throw new UnauthorizedError('no web session: sign in with POST /api/v1/session');
    answer(res, 200, req.principal!, expiresAt);
  });

  // Sign-out works with an expired or unknown cookie too: the cookie is cleared either way.
  router.delete('/session', async (req: Request, res: Response) => {
    if (!req.get(CSRF_HEADER)) throw new ApiError(403, 'csrf', `sign-out needs the ${CSRF_HEADER} header`);
    const session = await principalOfSession(deps.db, deps.sessions, req.get('cookie'));
    if (!('refused' in session)) {
      await deps.sessions.revoke(session.claims);
      deps.onSessionEnd?.(session.claims.nonce);
      req.log.info({ principal: principalFields(session.principal) }, 'web session ended');
    }
    clearSessionCookie(req, res);
    res.status(204).end();
  });
  return router;
}
