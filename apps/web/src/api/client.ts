/**
 * The one door to the API: same-origin fetch with the session cookie, the CSRF header on every
 * request, JSON in and out, and the API's error envelope turned into an ApiError.
 */

export interface FieldIssue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The per-field issues of a 400, if it has them. */
  get issues(): FieldIssue[] {
    return Array.isArray(this.details)
      ? this.details.filter(
          (item): item is FieldIssue => typeof item?.path === 'string' && typeof item?.message === 'string',
        )
      : [];
  }
}

export const API = '/api/v1';

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { 'X-Requested-With': 'glassdome-web', Accept: 'application/json' };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`${API}${path}`, {
    method: options.method ?? 'GET',
    headers,
    body,
    credentials: 'same-origin',
    signal: options.signal,
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } })?.error;
    const failure = new ApiError(
      response.status,
      error?.code ?? String(response.status),
      error?.message ?? `${response.status} ${response.statusText}`,
      error?.details,
    );
    if (response.status === 401) window.dispatchEvent(new CustomEvent('glassdome:unauthorized'));
    throw failure;
  }
  return parsed as T;
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    const issues = error.issues.map((issue) => `${issue.path || '(body)'}: ${issue.message}`);
    return issues.length > 0 ? `${error.message} — ${issues.join('; ')}` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
