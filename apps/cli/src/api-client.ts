/**
 * A thin client of Glassdome's HTTP API: Bearer auth, the error envelope turned into
 * ApiRequestError, and "no answer at all" turned into ApiUnreachableError (exit 3).
 */
import type { ApiConnection } from './connection';
import { ApiRequestError, ApiUnreachableError, type FieldProblem } from './errors';

export interface RequestOptions {
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as `application/yaml` text (a lab spec exactly as the user wrote it). */
  yaml?: string;
  /** Query string parameters; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** Aborts the request (and, for streams, the body). */
  signal?: AbortSignal;
}

/** How long a plain request may take before the API counts as unreachable. @defaultValue 30000 */
const REQUEST_TIMEOUT_MS = 30_000;

interface ErrorEnvelope {
  error?: { code?: string; message?: string; details?: unknown };
}

function fieldProblems(details: unknown): FieldProblem[] {
  if (!Array.isArray(details)) return [];
  return details
    .filter((item): item is FieldProblem => typeof item?.message === 'string')
    .map((item) => ({ path: String(item.path ?? ''), message: item.message }));
}

/** Why fetch got no answer, in words a user can act on (ECONNREFUSED, ENOTFOUND, timed out…). */
function unreachableCause(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

export class ApiClient {
  constructor(private readonly connection: ApiConnection) {}

  get apiUrl(): string {
    return this.connection.apiUrl;
  }

  /** GET/POST/DELETE under `/api/v1`, answering the parsed JSON body. */
  async call<T = Record<string, unknown>>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, `/api/v1${path}`, options);
    const text = await response.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Like `call`, answering the body as text (e.g. a roster as CSV). */
  async text(method: string, path: string, options: RequestOptions = {}): Promise<string> {
    const response = await this.send(method, `/api/v1${path}`, options);
    return response.text();
  }

  /** A path outside the prefix (`/healthz`, `/readyz`): status and body, errors included, never thrown. */
  async probe(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await this.fetch('GET', path, {});
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { text };
    }
    return { status: response.status, body };
  }

  /** Opens a streaming GET (Server-Sent Events); the caller reads `response.body`. */
  async stream(path: string, options: RequestOptions & { lastEventId?: string } = {}): Promise<Response> {
    const headers = options.lastEventId ? { 'Last-Event-ID': options.lastEventId } : undefined;
    return this.send('GET', `/api/v1${path}`, { ...options, noTimeout: true, headers });
  }

  private async send(
    method: string,
    path: string,
    options: RequestOptions & { noTimeout?: boolean; headers?: Record<string, string> },
  ): Promise<Response> {
    const response = await this.fetch(method, path, options);
    if (response.ok) return response;
    const text = await response.text();
    let envelope: ErrorEnvelope = {};
    try {
      envelope = JSON.parse(text) as ErrorEnvelope;
    } catch {
      // Not our API's envelope (a proxy's page, say): the status line is all there is to say.
    }
    throw new ApiRequestError(
      response.status,
      envelope.error?.code ?? 'http_error',
      envelope.error?.message ?? `${method} ${path} answered ${response.status} ${response.statusText}`,
      fieldProblems(envelope.error?.details),
    );
  }

  private async fetch(
    method: string,
    path: string,
    options: RequestOptions & { noTimeout?: boolean; headers?: Record<string, string> },
  ): Promise<Response> {
    const url = new URL(`${this.connection.apiUrl}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${this.connection.apiKey}`, ...options.headers };
    let body: string | undefined;
    if (options.yaml !== undefined) {
      headers['Content-Type'] = 'application/yaml';
      body = options.yaml;
    } else if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const signals = [options.signal, options.noTimeout ? undefined : AbortSignal.timeout(REQUEST_TIMEOUT_MS)];
    const active = signals.filter((signal): signal is AbortSignal => signal !== undefined);
    try {
      return await fetch(url, { method, headers, body, signal: active.length ? AbortSignal.any(active) : undefined });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new ApiUnreachableError(this.connection.apiUrl, unreachableCause(error));
    }
  }
}
