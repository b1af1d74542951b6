import express, { type NextFunction, type Request, type Response } from 'express';
import { UnsupportedMediaTypeError } from '../errors';

export const JSON_TYPES = ['application/json'];
export const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/**
 * Body parsers for the API: JSON everywhere, YAML text where a route accepts it. Over-long bodies
 * fail with 413 and malformed JSON with 400 (mapped by the error handler) before any route runs.
 */
export function bodyParsers(limitBytes: number) {
  return [
    express.json({ limit: limitBytes, type: JSON_TYPES, strict: false }),
    express.text({ limit: limitBytes, type: YAML_TYPES }),
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
