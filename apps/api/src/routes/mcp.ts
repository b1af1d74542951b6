/**
 * `/mcp`: Glassdome's MCP server over Streamable HTTP (the server itself is @glassdome/mcp). A
 * request needs a Bearer API key — the server calls this API back with it, over loopback, so the
 * key's role and project bound every tool exactly as they bound any other client. Cookie sessions
 * are refused here: they carry no key to call back with.
 */
import type { IncomingMessage } from 'node:http';
import type { Db } from '@glassdome/db';
import type { Logger } from '@glassdome/logger';
import { McpHttpSessions } from '@glassdome/mcp';
import express, { type NextFunction, type Request, type RequestHandler, type Response, Router } from 'express';
import { authenticate } from '../auth/middleware';
import { UnauthorizedError } from '../errors';

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

export interface McpRouteDeps {
  db: Db;
  logger: Logger;
  /** The per-key rate limit every API request passes. */
  limiter: RequestHandler;
  /** Largest MCP message. @defaultValue 1048576 */
  bodyLimitBytes?: number;
  /** How long a confirmation token of an acting tool lasts. @defaultValue 120 s */
  confirmTtlMs?: number;
}

/** This API as its own client sees it: the address and port the request came in on (loopback in practice). */
export function selfUrl(req: IncomingMessage): string {
  const address = req.socket.localAddress ?? '127.0.0.1';
  const host = address.startsWith('::ffff:') ? address.slice(7) : address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${req.socket.localPort}`;
}

function requireBearer(req: Request, _res: Response, next: NextFunction) {
  if (!BEARER.test(req.get('authorization') ?? '')) {
    throw new UnauthorizedError('the MCP endpoint needs an API key: Authorization: Bearer <key>');
  }
  next();
}

export function mcpRoutes(deps: McpRouteDeps): { router: Router; close(): Promise<void> } {
  const sessions = new McpHttpSessions({
    logger: deps.logger,
    apiBaseUrl: selfUrl,
    ...(deps.confirmTtlMs !== undefined ? { confirmTtlMs: deps.confirmTtlMs } : {}),
  });
  const router = Router();
  router.use(requireBearer, authenticate(deps.db), deps.limiter);
  router.use(express.json({ limit: deps.bodyLimitBytes ?? 1024 * 1024 }));
  router.all('/', async (req, res) => {
    const principal = req.principal as NonNullable<typeof req.principal> & { project?: string };
    await sessions.handle(
      req,
      res,
      {
        apiKey: BEARER.exec(req.get('authorization')!)![1]!,
        identity: {
          keyId: principal.keyId,
          name: principal.name,
          role: principal.role,
          project: principal.project ?? 'default',
        },
      },
      req.body,
    );
  });
  return { router, close: () => sessions.close() };
}
