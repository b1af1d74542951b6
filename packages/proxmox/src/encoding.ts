/**
 * How parameters travel to PVE: query string for GET/DELETE (a body there is a 501), form encoding for
 * POST/PUT. Booleans must be `1`/`0` (form `true` fails the schema), lists are comma-joined, undefined
 * values are left out.
 */

export type ParamValue = string | number | boolean | readonly (string | number)[] | undefined | null;
export type Params = Record<string, ParamValue>;

function encodeValue(value: Exclude<ParamValue, undefined | null>): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

/**
 * `a=1&b=x%20y`: percent-encoding with `%20` for spaces (never `+`), readable by every decoder PVE and
 * the simulator use, in parameter order.
 */
export function encodeParams(params: Params | undefined): string {
  let encoded = '';
  for (const key in params) {
    const value = params[key];
    if (value == null) continue;
    encoded += `${encoded ? '&' : ''}${encodeURIComponent(key)}=${encodeURIComponent(encodeValue(value))}`;
  }
  return encoded;
}

/**
 * The `sshkeys` config value: PVE wants the keys percent-encoded *inside* the parameter (its schema
 * format is `^[-%a-zA-Z0-9_.!~*'()]*$`), and the form encoding then encodes that again, so a space
 * travels as `%2520`. encodeURIComponent yields exactly that alphabet.
 */
export function encodeSshKeys(keys: readonly string[]): string {
  return encodeURIComponent(
    keys
      .map((key) => key.trim())
      .filter(Boolean)
      .join('\n'),
  );
}

/** The reverse, for config reads: PVE returns `sshkeys` still percent-encoded. */
export function decodeSshKeys(value: string): string[] {
  return decodeURIComponent(value)
    .split('\n')
    .map((key) => key.trim())
    .filter(Boolean);
}
