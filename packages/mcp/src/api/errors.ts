/** What the Glassdome API answered when it refused a call: its status, error code, message and details. */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** For a 400: one `{path, message}` per bad field. */
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

/** The API could not be reached at all (refused, reset, DNS): nothing was asked of Glassdome. */
export class ApiUnreachableError extends Error {
  constructor(
    readonly baseUrl: string,
    readonly reason: string,
  ) {
    super(`cannot reach the Glassdome API at ${baseUrl} (${reason})`);
    this.name = 'ApiUnreachableError';
  }
}

/** `{path, message}` per field of a 400's details, or nothing when the answer carried none. */
export function fieldIssues(details: unknown): { path: string; message: string }[] {
  if (!Array.isArray(details)) return [];
  return details
    .filter((item): item is { path: unknown; message: unknown } => typeof item === 'object' && item !== null)
    .map((item) => ({ path: String(item.path ?? ''), message: String(item.message ?? '') }));
}
