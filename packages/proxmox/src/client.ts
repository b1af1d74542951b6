import { type Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '@glassdome/logger';
import { onAbort } from './abort';
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

/** Where a client's requests go. */
interface RequestTarget {
  /** `http.request` or `https.request`, by the API URL's scheme. */
  send: typeof httpRequest;
  hostname: string;
  port: number;
  /** `/api2/json`: every call's path is appended to it. */
  basePath: string;
  /**
   * The headers every request begins with: `Host` (which `http.request` adds only to headers given
   * as an object) and `Accept`, as name/value pairs.
   */
  headers: readonly string[];
}

/** An HTTP answer, its body as text. */
interface HttpAnswer {
  status: number;
  statusText: string;
  body: string;
}

/** What a request that got no answer failed with; `reusedSocket` when it went out on a kept-alive socket. */
type NetworkFailure = Error & { code?: string; reusedSocket?: boolean };

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
  /** Where requests go: the API's host and port, the path every call's own path is appended to. */
  readonly #target: RequestTarget;
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
      this.#target = base.#target;
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
    const api = new URL(apiBaseUrl(config.baseUrl));
    this.#target = {
      send: api.protocol === 'https:' ? httpsRequest : httpRequest,
      hostname: api.hostname.replace(/^\[|\]$/g, ''),
      port: api.port ? Number(api.port) : api.protocol === 'https:' ? 443 : 80,
      basePath: api.pathname,
      headers: ['Host', api.host, 'Accept', 'application/json'],
    };
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
    return this.#send<Ticket>('POST', '/access/ticket', { username, password }, [], undefined, undefined);
  }

  async #send<T>(
    method: HttpMethod,
    path: string,
    params: Params | undefined,
    headers: readonly string[],
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const encoded = encodeParams(params);
    const inQuery = method === 'GET' || method === 'DELETE';
    const body = !inQuery && encoded ? encoded : undefined;
    const request = `${method} ${path}`;
    let answer: HttpAnswer;
    try {
      answer = await this.#exchange(
        method,
        inQuery && encoded ? `${path}?${encoded}` : path,
        headers,
        body,
        timeoutMs ?? this.#timeoutMs,
        signal,
      );
    } catch (error) {
      // Cancelled by the caller: their reason, not a network failure to retry.
      if (signal?.aborted) throw signal.reason;
      throw this.#networkError(error as NetworkFailure, request, params);
    }
    const parsed = parseBody(answer.body);
    if (answer.status >= 200 && answer.status < 300) return (parsed as { data: T } | undefined)?.data as T;
    const secrets = this.#secrets(params);
    throw classifyAnswer({
      status: answer.status,
      statusText: scrubText(answer.statusText, secrets),
      body: scrubBody(parsed, secrets),
      request,
    });
  }

  /**
   * One HTTP exchange on the client's keep-alive agent: the request (a form body for writes), then the
   * whole answer as text. The headers go to `http.request` as one list of name/value pairs, which it
   * writes as they are, where an object would have each one validated and stored by `setHeader`
   * first: every header here is either constant or built once per credential. Redirects are not
   * followed (plain http to PVE is redirected to https, and following it would resend the credentials
   * unchecked); no proxy; the answer is not asked to be compressed. Rejects with the socket's error,
   * a timeout after `timeoutMs` for the whole exchange, or when `signal` fires (the request is then
   * destroyed; watched through `onAbort`, so a view's calls share one listener on its signal).
   */
  #exchange(
    method: HttpMethod,
    path: string,
    auth: readonly string[],
    body: string | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<HttpAnswer> {
    const target = this.#target;
    const headers = [...target.headers, ...auth];
    if (body !== undefined) {
      headers.push(
        'Content-Type',
        'application/x-www-form-urlencoded',
        'Content-Length',
        String(Buffer.byteLength(body)),
      );
    }
    return new Promise<HttpAnswer>((resolve, reject) => {
      // A signal that fired before the request went out sends nothing ('abort' will not fire again).
      signal?.throwIfAborted();
      let settled = false;
      /** The server began answering: from then on the request was certainly delivered. */
      let answering = false;
      let unwatch: (() => void) | undefined;
      const req = target.send({
        agent: this.#agent,
        hostname: target.hostname,
        port: target.port,
        method,
        path: `${target.basePath}${path}`,
        headers,
      });
      const finish = (error: NetworkFailure | undefined, answer?: HttpAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unwatch?.();
        if (error) {
          // Only a reused socket that died before any answer began says the request never left: once the
          // server has started answering, it read the request (a reset mid-answer is no stale socket).
          error.reusedSocket = req.reusedSocket && !answering;
          req.destroy();
          reject(error);
        } else resolve(answer!);
      };
      const timer = setTimeout(
        () => finish(Object.assign(new Error(`timeout of ${timeoutMs}ms exceeded`), { code: 'ETIMEDOUT' })),
        timeoutMs,
      );
      if (signal) unwatch = onAbort(signal, () => finish(new Error('aborted')));
      req.on('error', (error) => finish(error));
      req.on('response', (res: IncomingMessage) => {
        answering = true;
        // Kept as bytes and decoded once at the end (an answer is mostly one chunk): no string
        // decoder per answer, and a character split between chunks is whole again.
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
        });
        res.on('error', (error) => finish(error));
        res.on('close', () => {
          if (!res.complete) finish(Object.assign(new Error('the answer was cut short'), { code: 'ECONNRESET' }));
        });
        res.on('end', () =>
          finish(undefined, {
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            body: (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'),
          }),
        );
      });
      req.end(body);
    });
  }

  /** Every secret a message about this request could contain, raw and percent-encoded. */
  #secrets(params: Params | undefined): string[] {
    const fromParams = Object.entries(params ?? {})
      .filter(([key, value]) => secretParamNames.has(key) && typeof value === 'string')
      .map(([, value]) => value as string);
    return [...this.#auth.secrets(), ...fromParams].flatMap((secret) => [secret, encodeURIComponent(secret)]);
  }

  /** A request that got no HTTP answer: its own error (which holds no header, so no credential), classified. */
  #networkError(error: NetworkFailure, request: string, params: Params | undefined): ProxmoxError {
    if (error instanceof TlsVerificationError) return error;
    const code = error.code ?? '';
    if (tlsTrustCodes.has(code)) {
      return new TlsVerificationError(`${request}: certificate not trusted (${code})`, { request });
    }
    // A keep-alive socket the server had already closed: the request never left.
    const staleSocket = error.reusedSocket === true && code === 'ECONNRESET';
    const notDelivered = staleSocket || notDeliveredCodes.has(code);
    const reason = scrubText(error.message ?? String(error), this.#secrets(params));
    return new TransientError(`${request} failed without an answer: ${reason}`, {
      request,
      maybeApplied: !notDelivered,
    });
  }
}
