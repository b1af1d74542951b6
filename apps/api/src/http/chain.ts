import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Several handlers as one Express layer, run the way Express runs them as layers of their own, mounted
 * as `mount` says: each in turn when the one before calls `next()`; `next(value)` with anything
 * truthy (an error, 'router') leaves the chain with that value, and so does 'route' in a route
 * (`app.post(path, chain(…, 'route'))`: the route's remaining handlers are skipped), while mounted
 * with `use` 'route' goes on to the next handler, as Express treats it in a middleware layer; a
 * handler that throws or whose promise rejects calls `next` with its error (a rejection without a
 * reason as an Error), as Express does. Error handlers (four parameters) are refused: Express skips
 * them unless there is an error, which a chain never hands on. A request walks one layer instead of
 * one per handler: Express's router spends, per layer, a match, a dispatch and a `next` of its own,
 * which on the deploy path cost more than most of the handlers themselves.
 */
export function chain(handlers: readonly RequestHandler[], mount: 'use' | 'route'): RequestHandler {
  const stack = [...handlers];
  if (stack.some((handler) => handler.length >= 4)) throw new TypeError('a chain cannot hold an error handler');
  return (req: Request, res: Response, done: NextFunction) => {
    let index = 0;
    const next = (value?: unknown) => {
      if (value && !(value === 'route' && mount === 'use')) {
        done(value);
        return;
      }
      if (index >= stack.length) {
        done();
        return;
      }
      const handler = stack[index++]!;
      try {
        const answer: unknown = handler(req, res, next);
        if (answer && typeof (answer as PromiseLike<unknown>).then === 'function') {
          (answer as PromiseLike<unknown>).then(undefined, (error: unknown) =>
            next(error || new Error('Rejected promise')),
          );
        }
      } catch (error) {
        next(error);
      }
    };
    next();
  };
}
