import { type Db, type Scope, touchApiKey } from '@glassdome/db';
import type { NextFunction, Request, Response } from 'express';
import { ApiError, ForbiddenError, UnauthorizedError } from '../errors';
import { JSON_TYPES, YAML_TYPES } from '../http/body';
import { bindToLog, logsAt } from '../http/request-id';
import {
  bearerHashOf,
  type Principal,
  principalOfKeyId,
  type Role,
  roleAtLeast,
  scopeOfPrincipal,
  sharedKeyLookups,
} from './keys';
import { type SessionClaims, type SessionStore, sessionCookieOf } from './session';

declare global {
  namespace Express {
    interface Request {
      /** The API key behind this request, once authenticated. */
      principal?: Principal;
      /** Set when the request was authenticated by a web session cookie rather than a Bearer key. */
      webSession?: SessionClaims;
    }
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The header the web UI sends on every request; a cross-site form or image cannot set it. */
export const CSRF_HEADER = 'x-requested-with';

export class CsrfError extends ApiError {
  constructor() {
    super(
      403,
      'csrf',
      `a request that changes state with a session cookie needs a JSON body or the ${CSRF_HEADER} header`,
    );
    this.name = 'CsrfError';
  }
}

/**
 * SameSite=Strict already keeps the cookie off cross-site requests; as a second wall, a cookie-borne
 * mutation must carry something no plain HTML form can send: a JSON or YAML body, or the custom header.
 */
function requireCsrfProof(req: Request): void {
  if (SAFE_METHODS.has(req.method)) return;
  if (req.get(CSRF_HEADER)) return;
  if (req.get('content-type') && req.is([...JSON_TYPES, ...YAML_TYPES])) return;
  throw new CsrfError();
}

/** The principal of a session cookie, or why there is none. */
export async function principalOfSession(
  db: Db,
  sessions: SessionStore,
  cookieHeader: string | undefined,
): Promise<{ principal: Principal; claims: SessionClaims } | { refused: string }> {
  const cookie = sessionCookieOf(cookieHeader);
  if (!cookie) return { refused: 'a valid API key is required (Authorization: Bearer <key>) or a signed-in session' };
  const claims = await sessions.verify(cookie);
  if (!claims) return { refused: 'the session has expired or was signed out; sign in again' };
  const principal = await principalOfKeyId(db, claims.keyId);
  if (!principal) return { refused: 'the API key behind this session was revoked' };
  return { principal, claims };
}

/** What a route adds to its request's audit line (`addToAuditLine`). */
const auditDetails = new WeakMap<Request, Record<string, unknown>>();

/**
 * Adds `fields` (what the request did: the VM it queued, its job) to the line every request that
 * changes state is logged with once answered, instead of a line of its own: one line per change,
 * with its principal and its outcome together.
 */
export function addToAuditLine(req: Request, fields: Record<string, unknown>): void {
  auditDetails.set(req, { ...auditDetails.get(req), ...fields });
}

/** How often at most a key's `last_used_at` is written. */
const LAST_USED_EVERY_SECONDS = 300;

/**
 * Writes `last_used_at` coarsely: this process remembers when it last did for each key and skips the
 * write within the interval; the UPDATE's own condition keeps replicas from writing more often.
 */
function lastUsedRecorder(db: Db) {
  const written = new Map<string, number>();
  return (req: Request, keyId: string) => {
    const now = Date.now();
    if (now - (written.get(keyId) ?? 0) < LAST_USED_EVERY_SECONDS * 1000) return;
    written.set(keyId, now);
    if (written.size > 10_000) written.clear();
    touchApiKey(db, keyId, LAST_USED_EVERY_SECONDS).catch((error: unknown) =>
      req.log.warn({ err: error }, 'last_used_at not recorded'),
    );
  };
}

/** The principal's identity as log fields: who did it, in which project (never the key itself). */
export function principalFields(principal: Principal) {
  return {
    keyId: principal.keyId,
    keyName: principal.name,
    role: principal.role,
    project: principal.project,
    ...(principal.labCopy ? { labId: principal.labCopy.labId, copy: principal.labCopy.copy } : {}),
  };
}

/**
 * Resolves `Authorization: Bearer <key>` to a principal, or (with `sessions`, and no Authorization
 * header) the web session cookie; 401 when missing, malformed, unknown, expired or revoked. Either
 * way `req.principal` is the one thing routes read. Every request that changes state is logged with
 * its principal once answered.
 */
export function authenticate(db: Db, sessions?: SessionStore): Authenticator {
  const recordUse = lastUsedRecorder(db);
  const principalOfKey = sharedKeyLookups(db);
  /** Hashes of bearer keys that authenticated here before (and were not refused since). */
  const known = new Set<string>();
  const early = new WeakMap<Request, Promise<Principal | undefined>>();
  const middleware = async (req: Request, res: Response, next: NextFunction) => {
    const header = req.get('authorization');
    if (header === undefined && sessions) {
      const session = await principalOfSession(db, sessions, req.get('cookie'));
      if ('refused' in session) throw new UnauthorizedError(session.refused);
      requireCsrfProof(req);
      req.principal = session.principal;
      req.webSession = session.claims;
    } else {
      const hash = bearerHashOf(req);
      if (!hash) throw new UnauthorizedError();
      const principal = await (early.get(req) ?? principalOfKey(hash));
      if (!principal) {
        known.delete(hash);
        throw new UnauthorizedError('the API key is unknown or revoked');
      }
      if (known.size >= 10_000) known.clear();
      known.add(hash);
      req.principal = principal;
    }
    const principal = req.principal;
    bindToLog(req, { principal: principalFields(principal) });
    recordUse(req, principal.keyId);
    if (!SAFE_METHODS.has(req.method) && logsAt(req, 'info')) {
      res.on('finish', () =>
        req.log.info(
          {
            method: req.method,
            path: req.originalUrl.split('?')[0],
            status: res.statusCode,
            ...auditDetails.get(req),
          },
          'mutation',
        ),
      );
    }
    next();
  };
  return Object.assign(middleware, {
    prefetch(req: Request) {
      const hash = bearerHashOf(req);
      if (!hash || !known.has(hash)) return;
      const lookup = principalOfKey(hash);
      // Read (and its failure answered) once the request reaches authentication; a lookup that fails
      // before that, or for a request refused on the way, must not be an unhandled rejection, which
      // ends the process (seen: Postgres restarting took the API down).
      lookup.catch(() => {});
      early.set(req, lookup);
    },
  });
}

/**
 * The authentication middleware; `prefetch` starts the key lookup of a request whose bearer key
 * authenticated here before while the address limiter still counts (its answer is still read after
 * the request arrived, so a key revoked meanwhile is refused). Keys never seen valid wait for the
 * address limiter, so a flood of made-up keys costs no Postgres lookups beyond its budget.
 */
export type Authenticator = ((req: Request, res: Response, next: NextFunction) => Promise<void>) & {
  prefetch(req: Request): void;
};

/** What the request's principal may see; routes pass it to every repository read. */
export function scopeOf(req: Request): Scope {
  return scopeOfPrincipal(req.principal!);
}

/** Paths a trainee key may read (GET only): its lab, the lab's events, and its copy's VMs. */
const TRAINEE_PATHS = [
  /^\/v1\/labs\/?$/,
  /^\/v1\/labs\/[0-9a-f-]{36}\/?$/,
  /^\/v1\/labs\/[0-9a-f-]{36}\/events\/?$/,
  /^\/v1\/vms\/[0-9a-f-]{36}\/?$/,
  /^\/v1\/labs\/[0-9a-f-]{36}\/(roster|snapshots|operations)(\/[0-9a-f-]{36})?\/?$/,
];

/** What a trainee may do beyond reading: reset its own copy (the route keeps it to that copy). */
const TRAINEE_ACTIONS = [/^\/v1\/labs\/[0-9a-f-]{36}\/reset\/?$/];

function isTraineeAction(req: Request): boolean {
  return req.method === 'POST' && TRAINEE_ACTIONS.some((path) => path.test(req.path));
}

/**
 * A trainee key reads its lab copy and nothing else: every other path (templates, alerts, inventory,
 * system status, jobs…) is refused before any route runs, as is every method but GET — except a
 * reset of its own copy.
 */
export function traineesReadTheirCopyOnly(req: Request, _res: Response, next: NextFunction) {
  if (req.principal?.role !== 'trainee') return next();
  if (isTraineeAction(req)) return next();
  if (!SAFE_METHODS.has(req.method) || !TRAINEE_PATHS.some((path) => path.test(req.path))) {
    throw new ForbiddenError('viewer');
  }
  next();
}

/** Viewers read; anything that changes state needs at least an operator (a trainee may reset its copy). */
export function mutationsNeedOperator(req: Request, _res: Response, next: NextFunction) {
  if (req.principal?.role === 'trainee' && isTraineeAction(req)) return next();
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
