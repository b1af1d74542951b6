/**
 * The one way a stored structure becomes the JSON of its column: a lab's spec and graph, a VM's
 * stored spec, a saved spec as its author wrote it, a pool's source. Each is parsed back with its
 * schema in `@glassdome/lab` (`parseStoredLabSpec`, `parseStoredVmSpec`, …), so neither side casts.
 */
import type { LabGraph, LabSourceRef, LabSpec, StoredVmSpec } from '@glassdome/lab';
import type { JsonValue } from './schema';

/** A structure one of the stored-spec columns holds. */
export type StoredStructure = StoredVmSpec | LabSpec | LabGraph | LabSourceRef | SpecAsWritten;

/** A saved spec as its author wrote it (decoded YAML or JSON, checked by `parseLabSpec` before it is saved). */
export type SpecAsWritten = Record<string, unknown>;

export class NotJsonError extends Error {
  constructor(readonly path: string) {
    super(`${path} cannot be stored as JSON`);
    this.name = 'NotJsonError';
  }
}

/**
 * The structure as JSON, the way `JSON.stringify` writes it (an absent optional field is left out),
 * but checked on the way: a value JSON cannot hold (undefined in a list, NaN, a Date, a Map, a
 * function) is an error naming where it is, not a silent `null` or `{}` in the row.
 */
export function toStoredJson(value: StoredStructure): JsonValue {
  return jsonOf(value, '$');
}

function jsonOf(value: unknown, path: string): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    throw new NotJsonError(path);
  }
  if (Array.isArray(value)) return value.map((item, index) => jsonOf(item, `${path}[${index}]`));
  if (typeof value === 'object' && isPlain(value)) {
    // fromEntries defines each key as an own property, `__proto__` included.
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, item]) => item !== undefined)
        .map(([key, item]) => [key, jsonOf(item, `${path}.${key}`)]),
    );
  }
  throw new NotJsonError(path);
}

function isPlain(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
