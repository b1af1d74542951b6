import type { Db } from '@glassdome/db';
import type { NextFunction, Request, Response } from 'express';
import { ForbiddenError, UnauthorizedError } from '../errors';
import { type Principal, principalOfKey, type Role, roleAtLeast } from './keys';

declare global {
  namespace Express {
    interface Request {
      /** The API key behind this request, once authenticated. */
      principal?: Principal;
    }
  }
}

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Resolves `Authorization: Bearer <key>` to a principal; 401 when missing, malformed, unknown or revoked. */
export function authenticate(db: Db) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    if (!match) throw new UnauthorizedError();
    const principal = await principalOfKey(db, match[1]!);
    if (!principal) throw new UnauthorizedError('the API key is unknown or revoked');
    req.principal = principal;
    req.log = req.log.child({ apiKey: principal.name });
    next();
  };
}

/** Viewers read; anything that changes state needs at least an operator. */
export function mutationsNeedOperator(req: Request, _res: Response, next: NextFunction) {
  if (!SAFE_METHODS.has(req.method) && !roleAtLeast(req.principal!.role, 'operator')) {
    throw new ForbiddenError('operator');
  }
  next();
}

export function requireRole(needed: Role) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!roleAtLeast(req.principal?.role ?? '', needed)) throw new ForbiddenError(needed);
    next();
  };
}
