import { type NextFunction, type Request, type RequestHandler, type Response, Router } from 'express';

/** What a layer of Express 5's router exposes (router 2.x): the path it was mounted or routed at. */
interface Layer {
  rawPath?: unknown;
}

/** Characters that make a path segment a pattern (path-to-regexp 8) rather than a literal. */
const PATTERN = /[:*?+(){}[\]\\!]/;

/**
 * The first segment of the paths `layer` can match, lowercased (Express matches paths regardless of
 * case by default), or undefined when it may match any first segment: a layer mounted at `/`, one
 * whose first segment is a pattern or a RegExp.
 */
function firstSegmentOf(layer: Layer): string | undefined {
  const path = layer.rawPath;
  if (typeof path !== 'string' || !path.startsWith('/')) return undefined;
  const segment = path.slice(1).split('/', 1)[0]!;
  if (segment === '' || PATTERN.test(segment)) return undefined;
  return segment.toLowerCase();
}

/** The first segment of the request's path (relative to where the index is mounted), lowercased. */
function firstSegmentOfRequest(req: Request): string {
  const path = req.path;
  const end = path.indexOf('/', 1);
  return (end < 0 ? path.slice(1) : path.slice(1, end)).toLowerCase();
}

/**
 * The routers' layers in one router per first path segment, for mounting where the routers would be
 * mounted one after the other at `/`. It answers as they would: a request is tried against the same
 * layers, in the same order, minus those whose path cannot match its first segment. What it saves:
 * every router a request enters and leaves unmatched costs a turn of the event loop (Express's router
 * hands back through setImmediate), and every layer a regular-expression match; a request to the
 * last of twenty routers paid twenty turns before its route ran.
 *
 * The routers must be plain: mounted at `/` with Express's default options, no `router.param`
 * handlers, no error-handling middleware and no `next('router')` (each would be scoped to its own
 * router). OPTIONS requests go through the routers as they are, so the automatic answer to OPTIONS
 * (the methods of the first router with a matching route) is unchanged.
 */
export function routeIndex(routers: Router[]): RequestHandler {
  const nested = Router();
  for (const router of routers) nested.use(router);
  const layers = routers.flatMap((router) => (router as unknown as { stack: Layer[] }).stack);
  const segments = new Set(layers.map(firstSegmentOf).filter((segment) => segment !== undefined));
  const flat = (segment: string | undefined): Router | undefined => {
    const matching = layers.filter((layer) => {
      const own = firstSegmentOf(layer);
      return own === undefined || own === segment;
    });
    if (matching.length === 0) return undefined;
    const router = Router();
    (router as unknown as { stack: Layer[] }).stack.push(...matching);
    return router;
  };
  const bySegment = new Map([...segments].map((segment) => [segment, flat(segment)]));
  const rest = flat(undefined);
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'OPTIONS') return nested(req, res, next);
    const segment = firstSegmentOfRequest(req);
    const router = bySegment.has(segment) ? bySegment.get(segment) : rest;
    if (!router) return next();
    router(req, res, next);
  };
}
