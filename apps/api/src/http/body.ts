import type { IncomingMessage } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { UnsupportedMediaTypeError } from '../errors';
import { chain } from './chain';
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

/** Refuses JSON text nested deeper than MAX_BODY_DEPTH, before JSON.parse sees it. */
function refuseDeepJsonText(text: string): void {
  if (jsonDepth(text, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) throw new BodyTooDeepError('JSON', MAX_BODY_DEPTH);
}

/** body-parser's `verify`: runs on the raw bytes before JSON.parse sees them. */
function refuseDeepJson(_req: IncomingMessage, _res: unknown, buffer: Buffer) {
  refuseDeepJsonText(buffer.toString('utf8'));
}

/** Runs on YAML text before any route hands it to the YAML parser. */
function refuseDeepYaml(req: Request, _res: Response, next: NextFunction) {
  if (typeof req.body === 'string' && yamlDepth(req.body, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
    throw new BodyTooDeepError('YAML', MAX_BODY_DEPTH);
  }
  next();
}

/**
 * The Content-Type values the quick read takes (`readBufferedJson`), spelled exactly so: every
 * other spelling, parameter or charset goes through body-parser, which decides as before.
 */
const PLAIN_JSON = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8']);

/** What body-parser adds to an error of JSON.parse (http-errors' fields), so the error handler answers the same 400. */
function unparsable(error: unknown, text: string): unknown {
  if (!(error instanceof Error)) return error;
  return Object.assign(error, { expose: true, status: 400, statusCode: 400, body: text, type: 'entity.parse.failed' });
}

/**
 * A small JSON body that has already arrived whole (the usual case for a deploy: it comes in the
 * packet of its headers), read at once: the bytes the stream holds are taken in one `read()`,
 * checked for depth and parsed, as body-parser would (UTF-8, a byte order mark dropped, an empty
 * text read as `{}`, the nesting checked before JSON.parse runs, the same errors). Returns false,
 * having touched nothing, for anything else — another Content-Type spelling, a content encoding,
 * chunked or empty or over-limit bodies, a body still on its way, a request already read or cut
 * off — which body-parser then reads as before (its 413, 415 and 400s included).
 */
export function readBufferedJson(req: Request, limitBytes: number): boolean {
  const headers = req.headers;
  const type = headers['content-type'];
  if (type === undefined || !PLAIN_JSON.has(type)) return false;
  if (headers['content-encoding'] !== undefined || headers['transfer-encoding'] !== undefined) return false;
  const length = Number(headers['content-length']);
  if (!Number.isInteger(length) || length <= 0 || length > limitBytes) return false;
  if (
    !req.complete ||
    (req as { upgrade?: boolean }).upgrade ||
    !req.readable ||
    !req.socket?.readable ||
    req.readableLength !== length
  ) {
    return false;
  }
  const bytes = req.read() as Buffer | null;
  if (bytes?.length !== length) {
    // Cannot happen with the checks above; raw-body's answer to a body of the wrong size, should it.
    throw Object.assign(new Error('request size did not match content length'), {
      expose: true,
      status: 400,
      statusCode: 400,
      type: 'request.size.invalid',
    });
  }
  const decoded = bytes.toString('utf8');
  refuseDeepJsonText(decoded);
  const text = decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded;
  if (text.length === 0) {
    req.body = {};
    return true;
  }
  try {
    req.body = JSON.parse(text);
  } catch (error) {
    throw unparsable(error, text);
  }
  return true;
}

/**
 * The API's body reading, one middleware: JSON everywhere, YAML text where a route accepts it.
 * Over-long bodies fail with 413, bodies nested deeper than MAX_BODY_DEPTH and malformed JSON with
 * 400 (mapped by the error handler), all before any parser spends time on them or any route runs.
 * A request without a body and a small JSON body that has arrived whole skip body-parser (see
 * readBufferedJson); everything else goes through it.
 */
export function bodyParsers(limitBytes: number): RequestHandler[] {
  const parsers = chain(
    [
      express.json({ limit: limitBytes, type: JSON_TYPES, strict: false, verify: refuseDeepJson }),
      express.text({ limit: limitBytes, type: YAML_TYPES }),
      refuseDeepYaml,
    ],
    'use',
  );
  return [
    (req: Request, res: Response, next: NextFunction) => {
      if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
        // No body (type-is's hasBody): body-parser sets the field and moves on.
        if (!Reflect.has(req, 'body')) req.body = undefined;
        next();
        return;
      }
      if (!readBufferedJson(req, limitBytes)) {
        parsers(req, res, next);
        return;
      }
      refuseDeepYaml(req, res, next);
    },
  ];
}

function hasBody(req: Request): boolean {
  const length = req.get('content-length');
  return req.get('transfer-encoding') !== undefined || (length !== undefined && length !== '0');
}

/** 415 for a request that carries a body in a type this route does not read. */
export function accept(types: string[]) {
  const plainJson = types.includes('application/json');
  return (req: Request, _res: Response, next: NextFunction) => {
    const type = req.headers['content-type'];
    const isPlainJson = plainJson && type !== undefined && PLAIN_JSON.has(type);
    if (!isPlainJson && hasBody(req) && !req.is(types)) throw new UnsupportedMediaTypeError(types);
    next();
  };
}
