import { randomUUID } from 'node:crypto';
import type { Logger } from '@glassdome/logger';
import type { NextFunction, Request, Response } from 'express';

/** A client-chosen request id is kept only if it is short and plain, so it is safe in logs and job data. */
const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

declare global {
  namespace Express {
    interface Request {
      /** Id of this request: from `X-Request-Id` when acceptable, otherwise generated. */
      id: string;
      /** Logger bound to this request's id. */
      log: Logger;
    }
  }
}

interface LogState {
  root: Logger;
  bindings: Record<string, unknown>;
  child?: Logger;
}

const logStates = new WeakMap<Request, LogState>();

/** Request prototypes that carry the `log` accessor. */
const withLogAccessor = new WeakSet<object>();

/**
 * `req.log` as an accessor of the requests' prototype (Express's `app.request`), defined once: a
 * property defined on each request would turn every request object into a slow dictionary-mode
 * object for the rest of its middleware.
 */
function defineLogAccessor(prototype: object): void {
  if (withLogAccessor.has(prototype)) return;
  withLogAccessor.add(prototype);
  Object.defineProperty(prototype, 'log', {
    configurable: true,
    enumerable: true,
    get(this: Request) {
      const state = logStates.get(this);
      if (!state) return undefined;
      state.child ??= state.root.child(state.bindings);
      return state.child;
    },
    set(this: Request, value: Logger) {
      const state = logStates.get(this);
      if (state) state.child = value;
      else Object.defineProperty(this, 'log', { value, writable: true, configurable: true, enumerable: true });
    },
  });
}

/**
 * Gives every request an id (echoed in `X-Request-Id`) and a logger that carries it. The logger is
 * made when first used: most requests log nothing at the configured level, and a pino child costs
 * its bindings' serialization and redaction.
 */
export function requestId(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    // Once per request, should a request pass this layer twice (a route that falls through).
    if (req.id !== undefined) {
      next();
      return;
    }
    const offered = req.get('x-request-id');
    req.id = offered && ACCEPTABLE_REQUEST_ID.test(offered) ? offered : randomUUID();
    logStates.set(req, { root: logger, bindings: { requestId: req.id } });
    defineLogAccessor(Object.getPrototypeOf(req));
    res.setHeader('X-Request-Id', req.id);
    next();
  };
}

/** Adds `fields` to what every line `req.log` writes, without making the logger before it is used. */
export function bindToLog(req: Request, fields: Record<string, unknown>): void {
  const state = logStates.get(req);
  if (!state) req.log = req.log.child(fields);
  else if (state.child) state.child = state.child.child(fields);
  else Object.assign(state.bindings, fields);
}

/** Whether `req.log` would write at `level` (asked without making the logger). */
export function logsAt(req: Request, level: 'info' | 'debug'): boolean {
  return (logStates.get(req)?.root ?? req.log).isLevelEnabled(level);
}
