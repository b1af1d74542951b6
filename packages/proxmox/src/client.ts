import type { Agent } from 'node:http';
import type { Logger } from '@glassdome/logger';
import axios, {
  type AxiosAdapter,
  AxiosHeaders,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
  isAxiosError,
} from 'axios';
import { type Authenticator, createAuthenticator, type Ticket } from './auth';
import { classifyAnswer } from './classify';
import {
  apiBaseUrl,
  defaultKeepAliveIdleMs,
  defaultPolling,
  defaultTimeoutMs,
  type PollingPolicy,
  type ProxmoxConfig,
} from './config';
import { encodeParams, type Params } from './encoding';
import { AuthenticationError, type ProxmoxError, TlsVerificationError, TransientError } from './errors';
import { FirstLooks } from './poll';
import { defaultRetryPolicy, type RetryPolicy, withRetry } from './retry';
import { scrubBody, scrubText, secretParamNames } from './scrub';
import { createAgent } from './tls';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RequestOptions {
  /**
   * Whether repeating the call cannot do its work twice; non-idempotent calls are retried only on
   * errors that certainly did not reach Proxmox.
   * @defaultValue true for GET, PUT and DELETE; false for POST
   */
  idempotent?: boolean;
  /**
   * Backoff override for this call; `false` makes exactly one try (for callers that poll themselves).
   * @defaultValue the client's policy
   */
  retry?: Partial<RetryPolicy> | false;
  /**
   * @defaultValue the client's `timeoutMs`
   */
  timeoutMs?: number;
  /**
   * Stops the call (and its retries): checked before every try, cancels the request in flight, cuts
   * a backoff short. The call then rejects with the signal's reason.
   * @defaultValue the signal the client was bound to with `withSignal`, if any
   */
  signal?: AbortSignal;
}

/** What `withSignal` builds a client from. */
interface SignalView {
  view: ProxmoxClient;
  signal: AbortSignal;
}

/** Both signals in one (either aborts it), or whichever is set. */
function combineSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (a && b) return AbortSignal.any([a, b]);
  return a ?? b;
}

/** A response body: its JSON when it is JSON (PVE's always is), else the text itself (a proxy's error page). */
function parseBody(text: unknown): unknown {
  if (typeof text !== 'string' || text === '') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Network failures where the request certainly never reached the server. */
const notDeliveredCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Certificate verification failures (CA mode): repeating cannot help. */
const tlsTrustCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * The HTTP layer every typed API module goes through: authentication, encoding, TLS trust, timeouts,
 * classification of every failure into a named error, and bounded retries of transient ones.
 */
export class ProxmoxClient {
  /** Node that node-scoped calls default to. */
  readonly node: string;
  /** How pollers built on this client (tasks, guest agent) space their calls. */
  readonly polling: PollingPolicy;
  /** When pollers built on this client take their first look, by kind of wait (shared with its views). */
  readonly firstLooks: FirstLooks;
  /** axios's Node http adapter, called straight with `#template` under each request's own fields. */
  readonly #adapter: AxiosAdapter;
  readonly #template: InternalAxiosRequestConfig;
  readonly #agent: Agent;
  readonly #auth: Authenticator;
  readonly #retry: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #logger: Logger | undefined;
  readonly #signal: AbortSignal | undefined;

  constructor(source: ProxmoxConfig | SignalView, logger?: Logger) {
    if ('view' in source) {
      // A view of another client: same connections, credentials and policies, every call under `signal`.
      const base = source.view;
      this.node = base.node;
      this.polling = base.polling;
      this.firstLooks = base.firstLooks;
      this.#adapter = base.#adapter;
      this.#template = base.#template;
      this.#agent = base.#agent;
      this.#auth = base.#auth;
      this.#retry = base.#retry;
      this.#timeoutMs = base.#timeoutMs;
      this.#logger = base.#logger;
      this.#signal = combineSignals(base.#signal, source.signal);
      return;
    }
    const config = source;
    this.#signal = undefined;
    this.node = config.node;
    this.polling = { ...defaultPolling, ...config.polling };
    this.firstLooks = new FirstLooks();
    this.#logger = logger;
    this.#retry = { ...defaultRetryPolicy, ...config.retry };
    this.#timeoutMs = config.timeoutMs ?? defaultTimeoutMs;
    this.#agent = createAgent(config.baseUrl, config.tls, config.keepAliveIdleMs ?? defaultKeepAliveIdleMs);
    if (config.tls && 'insecure' in config.tls) {
      logger?.warn({ baseUrl: config.baseUrl }, 'Proxmox TLS verification is disabled (tls.insecure)');
    }
    // The instance's defaults are axios's own merged once with these: every request is that template
    // with its method, URL, headers, body, timeout and signal on top (`Object.create`, which the
    // adapter reads through), handed to the http adapter without axios's per-request merging of
    // configs and headers, interceptors or transforms (none is used).
    const defaults = axios.create({
      baseURL: apiBaseUrl(config.baseUrl),
      httpAgent: this.#agent,
      httpsAgent: this.#agent,
      // Plain http to PVE is redirected to https; following it would resend credentials unchecked.
      maxRedirects: 0,
      validateStatus: () => true,
      proxy: false,
      // Bodies go out as the form strings `encodeParams` made and come back as text parsed once by
      // `#send`.
      responseType: 'text',
    }).defaults;
    this.#template = { ...defaults, headers: new AxiosHeaders() } as InternalAxiosRequestConfig;
    this.#adapter = axios.getAdapter('http');
    this.#auth = createAuthenticator(config.auth, (username, password) => this.#login(username, password));
  }

  /**
   * This client with every call (and every wait built on it: tasks, guest agent) stopped by `signal`,
   * e.g. a job's. Shares connections and credentials; closing the original closes it too.
   */
  withSignal(signal: AbortSignal): ProxmoxClient {
    return new ProxmoxClient({ view: this, signal });
  }

  /** The signal calls of this client honour, when it was made by `withSignal`. */
  get signal(): AbortSignal | undefined {
    return this.#signal;
  }

  get<T>(path: string, params?: Params, options?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, params, options);
  }

  post<T>(path: string, params?: Params, options?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, params, options);
  }

  put<T>(path: string, params?: Params, options?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, params, options);
  }

  delete<T>(path: string, params?: Params, options?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, params, options);
  }

  /** Sends one API call and returns its `data`, retrying transient failures as the options allow. */
  async request<T>(method: HttpMethod, path: string, params?: Params, options: RequestOptions = {}): Promise<T> {
    const policy: RetryPolicy =
      options.retry === false
        ? { ...this.#retry, attempts: 1 }
        : options.retry
          ? { ...this.#retry, ...options.retry }
          : this.#retry;
    const signal = combineSignals(this.#signal, options.signal);
    return withRetry(
      () => {
        signal?.throwIfAborted();
        return this.#authenticated<T>(method, path, params, options.timeoutMs, signal);
      },
      {
        policy,
        idempotent: options.idempotent ?? method !== 'POST',
        ...(signal ? { signal } : {}),
        onRetry: (error, attempt, delayMs) =>
          this.#logger?.warn({ request: `${method} ${path}`, attempt, delayMs, err: error.message }, 'retrying'),
      },
    );
  }

  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void {
    this.#agent.destroy();
  }

  async #authenticated<T>(
    method: HttpMethod,
    path: string,
    params: Params | undefined,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ) {
    const headers = await this.#auth.headersFor(method);
    try {
      return await this.#send<T>(method, path, params, headers, timeoutMs, signal);
    } catch (error) {
      // An expired or revoked ticket: one fresh login, then the call again.
      if (!(error instanceof AuthenticationError) || !this.#auth.invalidate()) throw error;
      signal?.throwIfAborted();
      return this.#send<T>(method, path, params, await this.#auth.headersFor(method), timeoutMs, signal);
    }
  }

  #login(username: string, password: string): Promise<Ticket> {
    return this.#send<Ticket>('POST', '/access/ticket', { username, password }, {}, undefined, undefined);
  }

  async #send<T>(
    method: HttpMethod,
    path: string,
    params: Params | undefined,
    headers: Record<string, string>,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const encoded = encodeParams(params);
    const inQuery = method === 'GET' || method === 'DELETE';
    const url = inQuery && encoded ? `${path}?${encoded}` : path;
    const request = `${method} ${path}`;
    const config = Object.create(this.#template) as InternalAxiosRequestConfig;
    config.method = method;
    config.url = url;
    config.timeout = timeoutMs ?? this.#timeoutMs;
    if (signal) config.signal = signal;
    if (!inQuery && encoded) {
      config.headers = new AxiosHeaders({ ...headers, 'Content-Type': 'application/x-www-form-urlencoded' });
      config.data = encoded;
    } else {
      config.headers = new AxiosHeaders(headers);
    }
    let response: AxiosResponse<string>;
    try {
      response = await this.#adapter(config);
    } catch (error) {
      // Cancelled by the caller: their reason, not a network failure to retry.
      if (signal?.aborted) throw signal.reason;
      throw this.#networkError(error, request, params);
    }
    const body = parseBody(response.data);
    if (response.status >= 200 && response.status < 300) return (body as { data: T } | undefined)?.data as T;
    const secrets = this.#secrets(params);
    throw classifyAnswer({
      status: response.status,
      statusText: scrubText(response.statusText ?? '', secrets),
      body: scrubBody(body, secrets),
      request,
    });
  }

  /** Every secret a message about this request could contain, raw and percent-encoded. */
  #secrets(params: Params | undefined): string[] {
    const fromParams = Object.entries(params ?? {})
      .filter(([key, value]) => secretParamNames.has(key) && typeof value === 'string')
      .map(([, value]) => value as string);
    return [...this.#auth.secrets(), ...fromParams].flatMap((secret) => [secret, encodeURIComponent(secret)]);
  }

  /**
   * A request that got no HTTP answer. The axios error itself is never rethrown: its `config` holds the
   * request headers, credentials included.
   */
  #networkError(error: unknown, request: string, params: Params | undefined): ProxmoxError {
    const cause = isAxiosError(error) ? error.cause : error;
    if (cause instanceof TlsVerificationError) return cause;
    const code = isAxiosError(error) ? error.code : undefined;
    const causeCode = (cause as NodeJS.ErrnoException | undefined)?.code;
    if (tlsTrustCodes.has(causeCode ?? code ?? '')) {
      return new TlsVerificationError(`${request}: certificate not trusted (${causeCode ?? code})`, { request });
    }
    // A keep-alive socket the server had already closed: the request never left.
    const staleSocket =
      isAxiosError(error) &&
      (error.request as { reusedSocket?: boolean } | undefined)?.reusedSocket === true &&
      (causeCode === 'ECONNRESET' || code === 'ECONNRESET');
    const notDelivered = staleSocket || notDeliveredCodes.has(causeCode ?? code ?? '');
    const reason = scrubText((error as Error).message ?? String(error), this.#secrets(params));
    return new TransientError(`${request} failed without an answer: ${reason}`, {
      request,
      maybeApplied: !notDelivered,
    });
  }
}
