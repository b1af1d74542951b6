import type { IncomingMessage } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { UnsupportedMediaTypeError } from '../errors';
import { jsonDepth, MAX_BODY_DEPTH, yamlDepth } from './nesting';

export const JSON_TYPES = ['application/json'];
export const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/** A body that nests deeper than the API reads; the error handler answers 400 naming the limit. */
export class BodyTooDeepError extends Error {
  constructor(
    readonly syntax: 'JSON' | 'YAML',
    readonly limit: number,
  ) {
    super(`the ${syntax} body nests deeper than ${limit} levels`);
    this.name = 'BodyTooDeepError';
  }
}

/** Runs on the raw bytes before JSON.parse sees them. */
function refuseDeepJson(_req: IncomingMessage, _res: unknown, buffer: Buffer) {
  if (jsonDepth(buffer.toString('utf8'), MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
    throw new BodyTooDeepError('JSON', MAX_BODY_DEPTH);
  }
}

/** Runs on YAML text before any route hands it to the YAML parser. */
function refuseDeepYaml(req: Request, _res: Response, next: NextFunction) {
  if (typeof req.body === 'string' && yamlDepth(req.body, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
    throw new BodyTooDeepError('YAML', MAX_BODY_DEPTH);
  }
  next();
}

/**
 * Body parsers for the API: JSON everywhere, YAML text where a route accepts it. Over-long bodies
 * fail with 413, bodies nested deeper than MAX_BODY_DEPTH and malformed JSON with 400 (mapped by the
 * error handler), all before any parser spends time on them or any route runs.
 */
export function bodyParsers(limitBytes: number) {
  return [
    express.json({ limit: limitBytes, type: JSON_TYPES, strict: false, verify: refuseDeepJson }),
    express.text({ limit: limitBytes, type: YAML_TYPES }),
    refuseDeepYaml,
  ];
}

function hasBody(req: Request): boolean {
  const length = req.get('content-length');
  return req.get('transfer-encoding') !== undefined || (length !== undefined && length !== '0');
}

/** 415 for a request that carries a body in a type this route does not read. */
export function accept(types: string[]) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (hasBody(req) && !req.is(types)) throw new UnsupportedMediaTypeError(types);
    next();
  };
}
