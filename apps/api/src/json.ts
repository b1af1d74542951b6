import { randomUUID } from 'node:crypto';
import type { JsonValue } from '@glassdome/db';
import type { Response } from 'express';

/** Specs and graphs come out of the lab package's validators as plain data, so they are JSON as they are. */
export function asJson(value: object): JsonValue {
  return value as unknown as JsonValue;
}

/** What a `JsonText` writes in its place while `sendJson` stringifies: a string no answer can hold otherwise. */
const PLACEHOLDER = `json-text-${randomUUID()}`;
/** The texts of the answer `sendJson` is stringifying, in the order written; unset otherwise. */
let written: string[] | undefined;

/**
 * JSON text written elsewhere — Postgres presents steps so (`shownStepsOfVm`) — put into an answer
 * as it is: a page of VMs carries some 450 steps, and parsing them only to write them again was most
 * of the list's cost (bench/lists.bench.ts). Only `sendJson` writes one; `JSON.stringify` alone throws.
 */
export class JsonText {
  constructor(readonly text: string) {}

  toJSON(): string {
    if (!written) throw new Error('a JsonText is written by sendJson');
    written.push(this.text);
    return PLACEHOLDER;
  }
}

/** `value` as JSON text in pieces, in order: each `JsonText` in it as it is, and the text around them. */
function jsonPieces(value: unknown): string[] {
  const texts: string[] = [];
  written = texts;
  let json: string;
  try {
    json = JSON.stringify(value);
  } finally {
    written = undefined;
  }
  if (texts.length === 0) return [json];
  const parts = json.split(`"${PLACEHOLDER}"`);
  const pieces = [parts[0]!];
  for (let i = 0; i < texts.length; i += 1) pieces.push(texts[i]!, parts[i + 1]!);
  return pieces;
}

/**
 * Answers with `value` as `res.json` does (same type, charset, length and ETag), each `JsonText` in
 * it as it is. The pieces are written into the answer's bytes one by one: joined into one string
 * first, a `/vms` page (77 KB) was copied once more on the heap when express encoded it.
 */
export function sendJson(res: Response, value: unknown): void {
  const pieces = jsonPieces(value);
  if (pieces.length === 1) {
    res.type('json').send(pieces[0]);
    return;
  }
  let length = 0;
  for (const piece of pieces) length += Buffer.byteLength(piece);
  const body = Buffer.allocUnsafe(length);
  let at = 0;
  for (const piece of pieces) at += body.write(piece, at);
  res.type('json').send(body);
}

/**
 * Answers a request that changes state (a 2xx to a POST) with `value`: what `res.json` sends, type,
 * charset and length, written at once, without the ETag `res.send` computes for every answer (a hash
 * of the body) and its other checks, none of which a POST's answer uses. A response whose `json` a
 * middleware has wrapped (idempotency records the answer) goes through it, as `res.json`.
 */
export function sendPostAnswer(res: Response, status: number, value: unknown): void {
  if (Object.hasOwn(res, 'json')) {
    res.status(status).json(value);
    return;
  }
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}
