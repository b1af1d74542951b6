/**
 * The MCP server over stdio, for desktop assistants that start it as a child process
 * (`glassdome mcp`). stdout carries the protocol only; the log goes to stderr.
 */
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '@glassdome/logger';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { GlassdomeApi } from './api/client';
import { Confirmations } from './confirm';
import { createGlassdomeMcp } from './server';

export interface StdioOptions {
  /** The API, e.g. http://127.0.0.1:8001. */
  baseUrl: string;
  apiKey: string;
  logger: Logger;
  /** How long a confirmation token stays good. @defaultValue 120 s */
  confirmTtlMs?: number;
  /** @defaultValue process.stdin */
  stdin?: Readable;
  /** @defaultValue process.stdout */
  stdout?: Writable;
}

/**
 * Asks the API who the key is (so a bad key fails here, with the API's message), builds the server
 * for that key and serves it until the client closes stdin. Resolves when the session is over.
 */
export async function serveStdio(options: StdioOptions): Promise<void> {
  const api = new GlassdomeApi({ baseUrl: options.baseUrl, apiKey: options.apiKey });
  const identity = await api.me();
  const mcp = await createGlassdomeMcp({
    api,
    identity,
    confirmations: new Confirmations(options.confirmTtlMs !== undefined ? { ttlMs: options.confirmTtlMs } : {}),
    logger: options.logger.child({ transport: 'stdio' }),
  });
  const transport = new StdioServerTransport(options.stdin, options.stdout);
  const closed = new Promise<void>((resolve) => {
    mcp.server.server.onclose = () => resolve();
  });
  await mcp.server.connect(transport);
  // The SDK's stdio transport does not notice the end of its input by itself.
  (options.stdin ?? process.stdin).once('end', () => void mcp.close());
  options.logger.info(
    { transport: 'stdio', keyId: identity.keyId, project: identity.project, role: identity.role, api: options.baseUrl },
    'mcp server ready',
  );
  await closed;
  mcp.subscriptions.close();
}
