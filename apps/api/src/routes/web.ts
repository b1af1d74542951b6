/**
 * The web UI (apps/web, a static Vite build) served at `/`: hashed assets for a year, index.html
 * never cached, and every other GET that is not the API's falls back to index.html so the UI's own
 * routes (/labs/…, /designer) survive a reload. The page's Content-Security-Policy allows only this
 * origin (its API, SSE and terminal WebSocket), no inline script.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response, Router } from 'express';

/** apps/web/dist beside this app in the repository (and in the Docker image). */
export const DEFAULT_WEB_DIST = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../web/dist');

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // React Flow and xterm position elements with style attributes.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** Paths that belong to the server, never to the UI's router. */
const SERVER_PATHS = /^\/(api|admin|metrics|healthz|readyz)(\/|$)/;

function notBuilt(res: Response): void {
  res
    .status(503)
    .type('text/plain')
    .send('The web UI is not built: run `pnpm --filter @glassdome/web build` (pnpm start does it for you).\n');
}

export function webRoutes(distDir: string = DEFAULT_WEB_DIST): Router {
  const router = Router();
  const index = join(distDir, 'index.html');
  router.use(
    '/assets',
    express.static(join(distDir, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }),
  );
  router.use(express.static(distDir, { index: false, maxAge: '1h' }));
  router.get(/.*/, (req: Request, res: Response, next) => {
    if (SERVER_PATHS.test(req.path)) return next();
    if (!existsSync(index)) return notBuilt(res);
    res.set({
      'Content-Security-Policy': CSP,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
    });
    res.sendFile(index);
  });
  return router;
}
