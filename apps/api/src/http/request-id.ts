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

/** Gives every request an id (echoed in `X-Request-Id`) and a logger that carries it. */
export function requestId(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const offered = req.get('x-request-id');
    req.id = offered && ACCEPTABLE_REQUEST_ID.test(offered) ? offered : randomUUID();
    req.log = logger.child({ requestId: req.id });
    res.setHeader('X-Request-Id', req.id);
    next();
  };
}
