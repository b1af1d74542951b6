/**
 * The MCP server's only door into Glassdome: the public HTTP API, called with the caller's own key,
 * so the API's authentication, roles, project scope, quotas and rate limits bound every tool exactly
 * as they bound a CLI or curl user. Paths and answers are typed from the API's OpenAPI document
 * (schema.gen.ts); operations newer than that document are found in the live document at run time.
 */
import createClient from 'openapi-fetch';
import { ApiCallError, ApiUnreachableError } from './errors';
import type { paths } from './schema.gen';

type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;

export type LabList = JsonOf<paths['/labs']['get']['responses'][200]>;
export type LabSummary = LabList['items'][number];
export type LabDetail = JsonOf<paths['/labs/{id}']['get']['responses'][200]>;
export type VmDetail = JsonOf<paths['/vms/{id}']['get']['responses'][200]>;
export type StepView = VmDetail['steps'][number];
export type LabTopology = JsonOf<paths['/labs/{id}/topology']['get']['responses'][200]>;
export type CatalogList = JsonOf<paths['/lab-templates']['get']['responses'][200]>;
export type OsProfiles = JsonOf<paths['/os-profiles']['get']['responses'][200]>;
export type AlertList = JsonOf<paths['/alerts']['get']['responses'][200]>;
export type Alert = AlertList['items'][number];
type LabPostAnswer = JsonOf<paths['/labs']['post']['responses'][202]>;
export type DryRun = Extract<LabPostAnswer, { dryRun: true }>;
export type LabBody = NonNullable<paths['/labs']['post']['requestBody']>['content']['application/json'];

/** Who the key is, as `GET /api/v1/me` tells it. */
export interface Identity {
  keyId: string;
  name: string;
  role: string;
  /** The key's project; admins act in every project. */
  project: string;
  /** A trainee key's one lab copy. */
  labCopy?: { labId: string; copy: number };
}

/** The parts of an OpenAPI document the server looks at to see which operations this API has. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> } }>>;
}

export interface ApiOptions {
  /** Where the API is, e.g. http://127.0.0.1:8001 (without /api/v1). */
  baseUrl: string;
  /** The caller's Glassdome API key; sent as a Bearer token on every call, never logged. */
  apiKey: string;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

async function errorOf(response: Response, body?: unknown): Promise<ApiCallError> {
  let parsed = body;
  if (parsed === undefined) {
    const text = await response.text().catch(() => '');
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  return new ApiCallError(
    response.status,
    typeof error?.code === 'string' ? error.code : `http_${response.status}`,
    typeof error?.message === 'string' ? error.message : `the API answered ${response.status} ${response.statusText}`,
    error?.details,
  );
}

export class GlassdomeApi {
  readonly baseUrl: string;
  private readonly authorization: string;
  private document: Promise<OpenApiDocument> | undefined;
  private readonly typed;

  constructor(options: ApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.authorization = `Bearer ${options.apiKey}`;
    this.typed = createClient<paths>({
      baseUrl: `${this.baseUrl}/api/v1`,
      headers: { Authorization: this.authorization },
      fetch: (request) => this.send(request),
    });
  }

  private async send(request: Request): Promise<Response> {
    try {
      return await fetch(request);
    } catch (error) {
      if (request.signal.aborted) throw error;
      throw new ApiUnreachableError(this.baseUrl, reasonOf(error));
    }
  }

  /** Unwraps an openapi-fetch answer: the data, or the API's own refusal as an ApiCallError. */
  private async unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    const { data, error, response } = await call;
    if (!response.ok) throw await errorOf(response, error ?? undefined);
    return data as T;
  }

  /** A call the generated types do not know yet (found in the live document); answers the parsed body. */
  async request<T = unknown>(
    method: Method,
    path: string,
    options: { query?: Record<string, string>; body?: unknown } = {},
  ): Promise<T> {
    const url = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
    const init: RequestInit = { method, headers: { Authorization: this.authorization, Accept: 'application/json' } };
    if (options.body !== undefined) {
      init.headers = { ...init.headers, 'Content-Type': 'application/json' };
      init.body = JSON.stringify(options.body);
    }
    const response = await this.send(new Request(url, init));
    if (!response.ok) throw await errorOf(response);
    const text = await response.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** The API's OpenAPI document (public, fetched once per client). */
  openApi(): Promise<OpenApiDocument> {
    this.document ??= (async () => {
      const response = await this.send(new Request(`${this.baseUrl}/api/v1/openapi.json`));
      if (!response.ok) throw await errorOf(response);
      return (await response.json()) as OpenApiDocument;
    })();
    this.document.catch(() => {
      this.document = undefined;
    });
    return this.document;
  }

  /** Whether the API has `method` on `path` (an OpenAPI path template such as `/labs/{id}`). */
  async has(method: Method, path: string): Promise<boolean> {
    return Boolean((await this.openApi()).paths[path]?.[method.toLowerCase()]);
  }

  me(): Promise<Identity> {
    return this.request<Identity>('GET', '/me');
  }

  listLabs(query: { status?: string; limit?: number; offset?: number } = {}): Promise<LabList> {
    return this.unwrap(this.typed.GET('/labs', { params: { query: query as never } }));
  }

  getLab(id: string): Promise<LabDetail> {
    return this.unwrap(this.typed.GET('/labs/{id}', { params: { path: { id } } }));
  }

  labTopology(id: string): Promise<LabTopology> {
    return this.unwrap(this.typed.GET('/labs/{id}/topology', { params: { path: { id } } }));
  }

  listVms(query: { status?: string; limit?: number; offset?: number } = {}) {
    return this.unwrap(this.typed.GET('/vms', { params: { query: query as never } }));
  }

  getVm(id: string): Promise<VmDetail> {
    return this.unwrap(this.typed.GET('/vms/{id}', { params: { path: { id } } }));
  }

  catalog(): Promise<CatalogList> {
    return this.unwrap(this.typed.GET('/lab-templates'));
  }

  osProfiles(): Promise<OsProfiles> {
    return this.unwrap(this.typed.GET('/os-profiles'));
  }

  templates() {
    return this.unwrap(this.typed.GET('/templates'));
  }

  alerts(query: { state?: string; severity?: string; limit?: number } = {}): Promise<AlertList> {
    return this.unwrap(this.typed.GET('/alerts', { params: { query: query as never } }));
  }

  overseerReport() {
    return this.unwrap(this.typed.GET('/overseer/report'));
  }

  systemStatus() {
    return this.unwrap(this.typed.GET('/system/status'));
  }

  /** `POST /labs?dryRun=true`: the plan of a spec (object or YAML text) or catalog reference; writes nothing. */
  async dryRun(body: LabBody | string): Promise<DryRun> {
    if (typeof body === 'string') {
      const response = await this.send(
        new Request(`${this.baseUrl}/api/v1/labs?dryRun=true`, {
          method: 'POST',
          headers: { Authorization: this.authorization, 'Content-Type': 'application/yaml' },
          body,
        }),
      );
      if (!response.ok) throw await errorOf(response);
      return (await response.json()) as DryRun;
    }
    const answer = await this.unwrap(
      this.typed.POST('/labs', { params: { query: { dryRun: 'true' } }, body: body as never }),
    );
    return answer as DryRun;
  }

  /** `POST /labs`: records the lab and starts its deploy; answers its id. */
  async deployLab(body: LabBody | string): Promise<{ id: string; status: string }> {
    if (typeof body === 'string') {
      const response = await this.send(
        new Request(`${this.baseUrl}/api/v1/labs`, {
          method: 'POST',
          headers: { Authorization: this.authorization, 'Content-Type': 'application/yaml' },
          body,
        }),
      );
      if (!response.ok) throw await errorOf(response);
      return (await response.json()) as { id: string; status: string };
    }
    return (await this.unwrap(this.typed.POST('/labs', { body: body as never }))) as { id: string; status: string };
  }

  retryLab(id: string) {
    return this.request<{ id: string; status: string; requeuedVms?: number }>('POST', `/labs/${id}/retry`);
  }

  cancelLab(id: string) {
    return this.request<{ id: string; status: string }>('POST', `/labs/${id}/cancel`);
  }

  destroyLab(id: string) {
    return this.request<{ id: string; status: string; jobId?: string }>('DELETE', `/labs/${id}`);
  }

  destroyVm(id: string) {
    return this.request<{ id: string; status: string; jobId?: string }>('DELETE', `/vms/${id}`);
  }

  /**
   * Opens the lab's event stream (`GET /labs/:id/events`, Server-Sent Events) after `afterId`; the
   * caller reads it and aborts `signal` to close it.
   */
  async labEventStream(id: string, afterId: number, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const url = `${this.baseUrl}/api/v1/labs/${encodeURIComponent(id)}/events?lastEventId=${afterId}`;
    const response = await this.send(
      new Request(url, { headers: { Authorization: this.authorization, Accept: 'text/event-stream' }, signal }),
    );
    if (!response.ok) throw await errorOf(response);
    if (!response.body) throw new ApiCallError(response.status, 'no_body', 'the event stream had no body');
    return response.body;
  }
}
