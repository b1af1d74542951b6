/** Reading API parameters the way pveproxy does: form or JSON body, query string on top. */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors';

const maxBody = 512 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  // No Content-Length and no Transfer-Encoding (or a length of 0): a request without a body
  // (RFC 9112 §6.3), the common GET; nothing to wait for.
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBody) throw new ApiError(413, 'Request Entity Too Large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Form decoding where repeated keys are joined with `\0`, as PVE does for list parameters. */
function formParams(text: string, into: Record<string, string>): void {
  for (const [key, value] of new URLSearchParams(text)) {
    into[key] = into[key] === undefined ? value : `${into[key]}\0${value}`;
  }
}

/** JSON values as the strings a form would carry (booleans as 1/0). */
function jsonParams(text: string, into: Record<string, string>): void {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(
      500,
      `malformed JSON string, neither tag, array, object, number, string or atom, at character offset 0 (before "${text.slice(0, 20)}")`,
    );
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  for (const [key, value] of Object.entries(body)) {
    if (value === null || value === undefined) continue;
    if (typeof value === 'boolean') into[key] = value ? '1' : '0';
    else if (Array.isArray(value)) into[key] = value.map(String).join('\0');
    else into[key] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
}

/** All parameters of a request; throws PVE's 501 for a body on GET/DELETE. */
export async function requestParams(req: IncomingMessage, url: URL): Promise<Record<string, string>> {
  const method = req.method ?? 'GET';
  if (req.headers['transfer-encoding']?.includes('chunked') && method !== 'POST' && method !== 'PUT') {
    throw new ApiError(501, 'chunked transfer encoding not supported');
  }
  const body = await readBody(req);
  const params: Record<string, string> = {};
  if (body.length > 0) {
    if (method !== 'POST' && method !== 'PUT') throw new ApiError(501, `Unexpected content for method '${method}'`);
    if (req.headers['content-type']?.startsWith('application/json')) jsonParams(body, params);
    else formParams(body, params);
  } else if (req.headers['content-type']?.startsWith('application/json') && (method === 'POST' || method === 'PUT')) {
    jsonParams(body, params);
  }
  const query: Record<string, string> = {};
  formParams(url.search.slice(1), query);
  return { ...params, ...query };
}
