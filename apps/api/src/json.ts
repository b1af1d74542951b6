import type { JsonValue } from '@glassdome/db';

/** Specs and graphs come out of the lab package's validators as plain data, so they are JSON as they are. */
export function asJson(value: object): JsonValue {
  return value as unknown as JsonValue;
}
