/**
 * The `/api2/json` HTTP front, framed like pveproxy: `Server: pve-api-daemon/3.0`, error text in
 * the status line, `Connection: close` on every answer >= 400, 401s with an empty body after a
 * delay, 501 for unknown paths, keep-alive of 5 s and 100 requests per connection, and workers that
 * stop after 1000 requests (see ProxyWorkers).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AdminApi, handleAdmin } from './admin';
import { AuthError, authenticateToken, usesToken, verifyCsrfToken, verifyTicket } from './auth';
import { ApiError } from './errors';
import { requestParams } from './request';
import type { Method } from './router';
import type { ApiResult, Simulator } from './sim';
import type { Identity } from './tasks';

const apiPrefix = '/api2/json';
const publicCalls = new Set(['GET /access/domains', 'GET /access/ticket', 'POST /access/ticket']);
const methods = new Set(['GET', 'POST', 'PUT', 'DELETE']);

export interface HttpOptions {
  tls?: { key: string; cert: string };
  admin: AdminApi;
}

function ticketOf(req: IncomingMessage): string | undefined {
  const cookie = /(?:^|;\s*)PVEAuthCookie=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];
  if (cookie) return decodeURIComponent(cookie);
  const header = /(?:^|\s)PVEAuthCookie=([^;\s]*)/.exec(req.headers.authorization ?? '')?.[1];
  return header ? decodeURIComponent(header) : undefined;
}

/** Who is calling; throws AuthError with PVE's 401 text. A ticket wins over a token. */
function authenticate(sim: Simulator, req: IncomingMessage, method: string): Identity {
  const ticket = ticketOf(req);
  if (ticket) {
    const userid = verifyTicket(sim.ticketKey, ticket);
    if (!userid || sim.state.users[userid]?.enable !== 1) throw new AuthError('authentication failure');
    const csrf = req.headers.csrfpreventiontoken;
    if (method !== 'GET' && !verifyCsrfToken(sim.ticketKey, Array.isArray(csrf) ? csrf[0] : csrf, userid)) {
      throw new AuthError('Permission denied - invalid csrf token');
    }
    return { userid };
  }
  const authorization = req.headers.authorization;
  if (usesToken(authorization)) return authenticateToken(sim.state, authorization!);
  throw new AuthError('No ticket');
}

const reasonOf = (message: string | undefined, status: number) =>
  (message?.split('\n')[0] ?? '').replace(/[^\x20-\x7e]/g, ' ').trim() ||
  (status >= 500 ? 'Internal Server Error' : 'Error');

/** The `Expires` value (now, as an HTTP date): made once per second, the resolution of the format. */
let expires = { second: -1, text: '' };
function expiresNow(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== expires.second) expires = { second, text: new Date(second * 1000).toUTCString() };
  return expires.text;
}

function baseHeaders(status: number): Record<string, string> {
  const headers: Record<string, string> = {
    Server: 'pve-api-daemon/3.0',
    'Cache-Control': 'max-age=0',
    Pragma: 'no-cache',
    Expires: expiresNow(),
  };
  if (status >= 400) headers.Connection = 'close';
  return headers;
}

function jsonBody(sim: Simulator, result: ApiResult): Buffer {
  let body: Record<string, unknown>;
  if (result.status === 200) {
    body = { data: result.data ?? null };
    if (result.total !== undefined) body.total = result.total;
  } else {
    body = { data: null };
    if (result.errors) body.errors = result.errors;
    if (sim.options.errorEnvelope === 'modern' && result.message) body.message = result.message;
  }
  return Buffer.from(JSON.stringify(body));
}

function sendResult(sim: Simulator, res: ServerResponse, result: ApiResult): void {
  const headers = { ...baseHeaders(result.status), 'Content-Type': 'application/json;charset=UTF-8' };
  // A VM list is sent from its kept bytes: the same bytes JSON.stringify would give.
  const payload = (result.status === 200 ? result.payload?.() : undefined) ?? jsonBody(sim, result);
  res.writeHead(result.status, result.status === 200 ? 'OK' : reasonOf(result.message, result.status), {
    ...headers,
    'Content-Length': String(payload.length),
  });
  res.end(payload);
}

/** A 401 as pveproxy sends it: status text only, no body, after the configured delay. */
async function sendUnauthorized(sim: Simulator, res: ServerResponse, message: string, startedAt: number) {
  await sim.clock.delay(startedAt + sim.clock.ms('authFailureDelay') - Date.now());
  res.writeHead(401, message, { ...baseHeaders(401), 'Content-Length': '0' });
  res.end();
}

async function handleApi(sim: Simulator, req: IncomingMessage, res: ServerResponse, url: URL, startedAt: number) {
  const method = req.method ?? 'GET';
  const path = url.pathname.slice(apiPrefix.length) || '/';
  if (!methods.has(method))
    return sendResult(sim, res, { status: 501, message: `Method '${method} ${path}' not implemented` });
  let who: Identity = { userid: '' };
  if (!publicCalls.has(`${method} ${path.replace(/\/$/, '')}`)) {
    try {
      who = authenticate(sim, req, method);
    } catch (error) {
      if (error instanceof AuthError) return sendUnauthorized(sim, res, error.message, startedAt);
      throw error;
    }
  } else if (usesToken(req.headers.authorization)) {
    // Public calls do not authenticate, but the ticket call must still refuse token callers.
    who = { userid: '', tokenid: '(api token)' };
  }
  const params = await requestParams(req, url);
  const fault = sim.faults.requestFault();
  if (fault) return sendResult(sim, res, { status: fault.status, message: `${fault.message}\n` });
  const result = await sim.dispatch({ method: method as Method, path, params, auth: who });
  if (result.status === 401) return sendUnauthorized(sim, res, reasonOf(result.message, 401), startedAt);
  sendResult(sim, res, result);
}

async function handle(sim: Simulator, options: HttpOptions, req: IncomingMessage, res: ServerResponse) {
  const startedAt = Date.now();
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    if (url.pathname.startsWith('/_sim/') || url.pathname === '/_sim')
      return await handleAdmin(options.admin, req, res, url);
    if (url.pathname === apiPrefix || url.pathname.startsWith(`${apiPrefix}/`))
      return await handleApi(sim, req, res, url, startedAt);
    sendResult(sim, res, { status: 501, message: `Method '${req.method} ${url.pathname}' not implemented` });
  } catch (error) {
    const status = error instanceof ApiError ? error.status : 500;
    const message = error instanceof Error ? error.message : String(error);
    if (!res.headersSent) sendResult(sim, res, { status, message: `${message}\n` });
  }
}

/**
 * pveproxy's worker processes (`max_workers => 3`, `max_requests => 1000`): each new connection is
 * taken by one of three workers, and a worker counts every request over all its connections. The one
 * that reaches its 1000th request stops: that answer and the answer to any later request on one of
 * its connections carry `Connection: close`, and a fresh worker takes its place for new connections.
 * So a client's kept-alive connections are also closed every few thousand requests to a node, not
 * only after 100 requests each, 5 s idle or an error answer.
 */
class ProxyWorkers {
  static readonly count = 3;
  static readonly maxRequests = 1000;
  readonly #workers = Array.from({ length: ProxyWorkers.count }, () => ({ requests: 0 }));
  readonly #byConnection = new WeakMap<object, { requests: number }>();
  #next = 0;

  /** A connection accepted: the next worker in turn takes it. */
  accept(connection: object): void {
    this.#byConnection.set(connection, this.#workers[this.#next]!);
    this.#next = (this.#next + 1) % ProxyWorkers.count;
  }

  /** A request on `connection`: false once its worker has served its last one (the answer then closes). */
  keepAlive(connection: object): boolean {
    const worker = this.#byConnection.get(connection);
    if (!worker) return true;
    worker.requests++;
    if (worker.requests === ProxyWorkers.maxRequests) {
      const at = this.#workers.indexOf(worker);
      if (at >= 0) this.#workers[at] = { requests: 0 };
    }
    return worker.requests < ProxyWorkers.maxRequests;
  }
}

/** An HTTP or HTTPS server for the simulator's API and admin endpoint (not yet listening). */
export function createApiServer(sim: Simulator, options: HttpOptions): Server {
  const workers = new ProxyWorkers();
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    // The admin endpoint is the simulator's own, not pveproxy's: it counts for no worker.
    if (!req.url?.startsWith('/_sim') && !workers.keepAlive(req.socket)) res.setHeader('Connection', 'close');
    void handle(sim, options, req, res);
  };
  const server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener)
    : createHttpServer(listener);
  server.keepAliveTimeout = 5000;
  server.maxRequestsPerSocket = 100;
  server.on(options.tls ? 'secureConnection' : 'connection', (socket) => workers.accept(socket));
  return server;
}
