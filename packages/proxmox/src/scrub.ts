/**
 * Proxmox sometimes echoes what it was sent (`type check ('integer') failed - got '…'`), so every text
 * that becomes an error or a log line passes through here first, with every secret the request held.
 */

/** Parameters whose values are secrets whatever their content. */
export const secretParamNames = new Set(['password', 'cipassword', 'tokenSecret', 'value', 'secret', 'ticket']);

export function scrubText(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    // Short values (`1`, `0`) would shred ordinary text and are not secrets worth the name.
    if (secret.length >= 4) result = result.split(secret).join('[redacted]');
  }
  return result;
}

/** Returns a copy of a JSON error body with every string scrubbed (message and `errors` map). */
export function scrubBody(body: unknown, secrets: readonly string[]): unknown {
  if (typeof body === 'string') return scrubText(body, secrets);
  if (Array.isArray(body)) return body.map((item) => scrubBody(item, secrets));
  if (body && typeof body === 'object') {
    return Object.fromEntries(Object.entries(body).map(([key, value]) => [key, scrubBody(value, secrets)]));
  }
  return body;
}
