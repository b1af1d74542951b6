/**
 * PVE serialises Perl scalars as they are: numbers arrive as `2048` or `"2048"`, booleans as `1`, `"1"`
 * or not at all. These coercions turn any of those into proper types, once, at the edge.
 */

export function toNumber(value: unknown, fallback = 0): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : fallback;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : fallback;
  }
  return fallback;
}

export function toOptionalNumber(value: unknown): number | undefined {
  const parsed = toNumber(value, Number.NaN);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** `1`, `"1"`, `true`, `"yes"`, `"on"` are true; absent or anything else is false. */
export function toBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1;
  if (typeof value === 'string') return ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
  return false;
}

export function toOptionalString(value: unknown): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : String(value);
}

/** `"a,b"` or `["a","b"]` → `["a","b"]`; `;`-separated tags too. */
export function toList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string' || value === '') return [];
  return value
    .split(/[,;\s]+/)
    .map((item) => item.trim())
    .filter(Boolean);
}

/**
 * Reads a property string (`virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=5`) into its keys; a leading
 * bare value is stored under `defaultKey` (PVE's `[model=]` / `[current=]` / `[enabled=]` forms).
 */
export function parsePropertyString(value: string, defaultKey: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [index, part] of value.split(',').entries()) {
    const equals = part.indexOf('=');
    if (equals < 0) {
      if (index === 0) result[defaultKey] = part;
      else result[part] = '1';
      continue;
    }
    result[part.slice(0, equals)] = part.slice(equals + 1);
  }
  return result;
}
