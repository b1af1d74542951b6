import { createHash } from 'node:crypto';
import { type Db, findIdempotentAnswer, type JsonValue, storeIdempotentAnswer } from '@glassdome/db';
import type { NextFunction, Request, Response } from 'express';
import { ConflictError, ValidationError } from '../errors';

const ACCEPTABLE_KEY = /^[\x21-\x7e]{1,200}$/;

interface RecordedAnswer {
  body: JsonValue;
  location?: string;
  /** Fields of the first answer that were never stored (secrets shown once); a replay goes without them. */
  withheld?: string[];
}

/**
 * Marks fields of this request's answer as secrets shown once: the idempotent copy is stored without
 * them, so Postgres never holds them, and a replay answers without them (`withheld` names them).
 */
export function withholdFromReplay(res: Response, fields: string[]): void {
  res.locals.withheldFields = fields;
}

function withoutFields(body: JsonValue, fields: readonly string[]): JsonValue {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  return Object.fromEntries(Object.entries(body).filter(([key]) => !fields.includes(key)));
}

function requestHash(req: Request): string {
  return createHash('sha256')
    .update(`${req.method} ${req.originalUrl}\n${req.get('content-type') ?? ''}\n`)
    .update(typeof req.body === 'string' ? req.body : JSON.stringify(req.body ?? null))
    .digest('hex');
}

/** Answers worth replaying: done or refused for good. 429 and 5xx mean "try again", so they are not kept. */
function isFinal(status: number): boolean {
  return status < 500 && status !== 429;
}

/**
 * `Idempotency-Key` on a POST or DELETE: the first final answer is stored per API key and replayed
 * for a repeat of the same request; the same key with a different request is a 409.
 */
export function idempotency(db: Db) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const key = req.get('idempotency-key');
    if (key === undefined || (req.method !== 'POST' && req.method !== 'DELETE')) return next();
    if (!ACCEPTABLE_KEY.test(key)) {
      throw new ValidationError([
        { path: 'headers.idempotency-key', message: 'must be 1-200 visible ASCII characters' },
      ]);
    }
    const keyId = req.principal!.keyId;
    const hash = requestHash(req);
    const stored = await findIdempotentAnswer(db, keyId, key);
    if (stored) {
      if (stored.requestHash !== hash) throw new ConflictError('this Idempotency-Key was used for a different request');
      const answer = stored.response as unknown as RecordedAnswer;
      if (answer.location) res.setHeader('Location', answer.location);
      res.setHeader('Idempotent-Replayed', 'true');
      const body =
        answer.withheld && answer.body && typeof answer.body === 'object' && !Array.isArray(answer.body)
          ? { ...answer.body, withheld: answer.withheld }
          : answer.body;
      res.status(stored.statusCode).json(body);
      return;
    }
    const send = res.json.bind(res);
    res.json = (body: JsonValue) => {
      if (!isFinal(res.statusCode)) return send(body);
      const location = res.getHeader('location');
      const withheld = res.locals.withheldFields as string[] | undefined;
      const answer: RecordedAnswer = {
        body: withheld ? withoutFields(body, withheld) : body,
        ...(typeof location === 'string' ? { location } : {}),
        ...(withheld ? { withheld } : {}),
      };
      storeIdempotentAnswer(db, keyId, key, {
        requestHash: hash,
        statusCode: res.statusCode,
        response: answer as unknown as JsonValue,
      })
        .then(() => send(body))
        .catch((error: unknown) => {
          req.log.warn({ err: error }, 'idempotent answer not stored');
          send(body);
        });
      return res;
    };
    next();
  };
}
