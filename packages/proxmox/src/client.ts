import { channel } from 'node:diagnostics_channel';
import type { Agent } from 'node:http';
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
import { Http1Pool, type HttpAnswer, isSafePath, type NetworkFailure } from './http1';
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
  /** `/api2/json`: every call's path is appended to it. */
  basePath: string;
  /** The headers every request begins with, `Host` and `Accept`, as they go on the wire. */
  head: string;
  /** The header lines of each credential's headers (see Authenticator), made once per credential. */
  credentials: WeakMap<readonly string[], string>;
}

/**
 * Every request as it goes out, `{ method, path }`: what node:http's `http.client.request.start`
 * told profiling tools (bench/cpu-profile.mjs counts calls by path) before the client wrote its own.
 */
const requestChannel = channel('glassdome:proxmox:request');

/** A header's value may not end its line early or hold a NUL (node:http refuses the same). */
const unsafeHeaderValue = /[\r\n\0]/;

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
  /** What every request begins with: the path every call's own path is appended to, the constant headers. */
  readonly #target: RequestTarget;
  /** Makes the connections (TLS trust, see tls.ts). */
  readonly #agent: Agent;
  readonly #pool: Http1Pool;
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
      this.#pool = base.#pool;
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
    const idleMs = config.keepAliveIdleMs ?? defaultKeepAliveIdleMs;
    this.#agent = createAgent(config.baseUrl, config.tls, idleMs);
    if (config.tls && 'insecure' in config.tls) {
      logger?.warn({ baseUrl: config.baseUrl }, 'Proxmox TLS verification is disabled (tls.insecure)');
    }
    const api = new URL(apiBaseUrl(config.baseUrl));
    this.#pool = new Http1Pool(
      this.#agent,
      {
        hostname: api.hostname.replace(/^\[|\]$/g, ''),
        port: api.port ? Number(api.port) : api.protocol === 'https:' ? 443 : 80,
      },
      idleMs,
    );
    this.#target = {
      basePath: api.pathname,
      head: `Host: ${api.host}\r\nAccept: application/json\r\n`,
      credentials: new WeakMap(),
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

  /** Closes the keep-alive connections so the process can exit. */
  close(): void {
    this.#pool.close();
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
    const boundMs = timeoutMs ?? this.#timeoutMs;
    let answer: HttpAnswer;
    try {
      answer = await this.#exchange(
        method,
        inQuery && encoded ? `${path}?${encoded}` : path,
        headers,
        body,
        boundMs,
        signal,
      );
    } catch (error) {
      // Cancelled by the caller: their reason, not a network failure to retry.
      if (signal?.aborted) throw signal.reason;
      const failure = error as NetworkFailure;
      // A call that hangs costs its caller the whole timeout: say where it hung, so a stall of that
      // length in a deploy can be told apart from other waits of the same length (a job's lock, a backoff).
      if (failure.exchange) {
        this.#logger?.warn({ request, timeoutMs: boundMs, ...failure.exchange }, 'Proxmox request timed out');
      }
      throw this.#networkError(failure, request, params);
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
   * One HTTP exchange on the client's keep-alive connections (see Http1Pool): the request (a form
   * body for writes) written whole at once, then the whole answer as text. The credential's header
   * lines are made once per credential. Redirects are not followed (plain http to PVE is redirected
   * to https, and following it would resend the credentials unchecked); no proxy; the answer is not
   * asked to be compressed. Rejects with the connection's error, a timeout after `timeoutMs` for the
   * whole exchange, or when `signal` fires (the connection is then closed; watched through
   * `onAbort`, so a view's calls share one listener on its signal).
   */
  #exchange(
    method: HttpMethod,
    path: string,
    auth: readonly string[],
    body: string | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<HttpAnswer> {
    // A signal that fired before the request went out sends nothing ('abort' will not fire again).
    signal?.throwIfAborted();
    const target = this.#target;
    const fullPath = `${target.basePath}${path}`;
    if (!isSafePath(fullPath)) throw new TypeError('the request path holds characters a request line cannot');
    let credential = target.credentials.get(auth);
    if (credential === undefined) {
      credential = '';
      for (let i = 0; i < auth.length; i += 2) {
        if (unsafeHeaderValue.test(auth[i + 1]!)) throw new TypeError(`invalid value of header ${auth[i]}`);
        credential += `${auth[i]}: ${auth[i + 1]}\r\n`;
      }
      target.credentials.set(auth, credential);
    }
    // A POST or PUT without parameters still says its body is empty, as node:http did.
    const request =
      body === undefined
        ? `${method} ${fullPath} HTTP/1.1\r\n${target.head}${credential}${method === 'POST' || method === 'PUT' ? 'Content-Length: 0\r\n' : ''}\r\n`
        : `${method} ${fullPath} HTTP/1.1\r\n${target.head}${credential}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    if (requestChannel.hasSubscribers) requestChannel.publish({ method, path: fullPath });
    return this.#pool.exchange(request, timeoutMs, signal && ((cancel) => onAbort(signal, cancel)));
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
