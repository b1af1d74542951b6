import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Several handlers as one Express layer, run the way Express runs a route's handlers: each in turn
 * when the one before calls `next()`; `next(value)` with anything truthy (an error, 'route',
 * 'router') leaves the chain with that value; a handler that throws or whose promise rejects calls
 * `next` with its error (a rejection without a reason as an Error), as Express does. A request walks one
 * layer instead of one per handler: Express's router spends, per layer, a match, a dispatch and a
 * `next` of its own, which on the deploy path cost more than most of the handlers themselves.
 */
export function chain(handlers: readonly RequestHandler[]): RequestHandler {
  const stack = [...handlers];
  return (req: Request, res: Response, done: NextFunction) => {
    let index = 0;
    const next = (value?: unknown) => {
      if (value) {
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
