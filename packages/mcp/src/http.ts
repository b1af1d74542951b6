/**
 * The MCP server over Streamable HTTP (stateful: one MCP session per client, so resource
 * subscriptions can notify on the session's stream). A session belongs to the API key that
 * initialised it: a request naming it with another key is answered as if it did not exist. Sessions
 * end when the client deletes them, after `idleMs` without a request, or when their key opens more
 * than `maxPerKey`. They live in this process: behind several API replicas, route a session's
 * requests to one replica (its `Mcp-Session-Id` header).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@glassdome/logger';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { GlassdomeApi, type Identity } from './api/client';
import { ApiCallError, ApiUnreachableError } from './api/errors';
import { Confirmations } from './confirm';
import { createGlassdomeMcp, type GlassdomeMcp } from './server';

/** Who sent an HTTP request, as the host (the API) authenticated it. */
export interface HttpCaller {
  /** The key itself: the server calls the API with it. */
  apiKey: string;
  identity: Identity;
}

export interface HttpSessionOptions {
  logger: Logger;
  /** Where the server calls the API for a request (the API itself, over loopback). */
  apiBaseUrl: (req: IncomingMessage) => string;
  /** @defaultValue 120 s */
  confirmTtlMs?: number;
  /** A session with no request for this long is closed. @defaultValue 30 min */
  idleMs?: number;
  /** Sessions one key may hold; opening one more closes its oldest. @defaultValue 10 */
  maxPerKey?: number;
}

interface Session {
  id: string;
  keyId: string;
  transport: StreamableHTTPServerTransport;
  mcp: GlassdomeMcp;
  lastSeen: number;
}

function jsonRpcError(res: ServerResponse, status: number, message: string, code = -32000): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

export class McpHttpSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly confirmations: Confirmations;
  private readonly idleMs: number;
  private readonly maxPerKey: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: HttpSessionOptions) {
    this.confirmations = new Confirmations(options.confirmTtlMs !== undefined ? { ttlMs: options.confirmTtlMs } : {});
    this.idleMs = options.idleMs ?? 30 * 60_000;
    this.maxPerKey = options.maxPerKey ?? 10;
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.idleMs, 60_000)).unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Serves one request to `/mcp` (POST, GET for the session's stream, DELETE to end it). */
  async handle(req: IncomingMessage, res: ServerResponse, caller: HttpCaller, body: unknown): Promise<void> {
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (sessionId) {
      const session = this.sessions.get(sessionId);
      if (!session || session.keyId !== caller.identity.keyId) {
        jsonRpcError(res, 404, 'no such MCP session (it ended, or belongs to another key): initialize a new one');
        return;
      }
      session.lastSeen = Date.now();
      await session.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      jsonRpcError(res, 400, 'no Mcp-Session-Id: start with an initialize request');
      return;
    }
    await this.open(req, res, caller, body);
  }

  private async open(req: IncomingMessage, res: ServerResponse, caller: HttpCaller, body: unknown): Promise<void> {
    const { identity } = caller;
    const api = new GlassdomeApi({ baseUrl: this.options.apiBaseUrl(req), apiKey: caller.apiKey });
    let mcp: GlassdomeMcp;
    try {
      mcp = await createGlassdomeMcp({
        api,
        identity,
        confirmations: this.confirmations,
        logger: this.options.logger.child({ transport: 'http' }),
      });
    } catch (error) {
      const known = error instanceof ApiCallError || error instanceof ApiUnreachableError;
      if (!known) this.options.logger.error({ err: error }, 'mcp session could not start');
      jsonRpcError(res, 503, known ? (error as Error).message : 'the MCP server could not start a session', -32603);
      return;
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        this.limitSessionsOf(identity.keyId);
        this.sessions.set(id, { id, keyId: identity.keyId, transport, mcp, lastSeen: Date.now() });
        this.options.logger.info(
          { transport: 'http', mcpSession: id, keyId: identity.keyId, project: identity.project, role: identity.role },
          'mcp session opened',
        );
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id && this.sessions.delete(id)) {
        this.options.logger.info({ transport: 'http', mcpSession: id, keyId: identity.keyId }, 'mcp session closed');
      }
      mcp.subscriptions.close();
    };
    await mcp.server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  private limitSessionsOf(keyId: string): void {
    const own = [...this.sessions.values()].filter((session) => session.keyId === keyId);
    own.sort((a, b) => a.lastSeen - b.lastSeen);
    for (const session of own.slice(0, Math.max(0, own.length - this.maxPerKey + 1))) void this.end(session);
  }

  private async end(session: Session): Promise<void> {
    this.sessions.delete(session.id);
    await session.mcp.close().catch(() => undefined);
  }

  private sweep(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const session of this.sessions.values()) {
      if (session.lastSeen < cutoff) void this.end(session);
    }
  }

  /** Ends every session (the API is shutting down). */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((session) => this.end(session)));
  }
}
