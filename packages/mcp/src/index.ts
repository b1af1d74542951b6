/**
 * @glassdome/mcp: Glassdome's MCP server (official SDK), served over stdio by the CLI
 * (`glassdome mcp`) and over Streamable HTTP by the API (`/mcp`). It speaks to Glassdome only
 * through the public HTTP API, with the caller's own key.
 */
export { GlassdomeApi, type Identity } from './api/client';
export { ApiCallError, ApiUnreachableError } from './api/errors';
export { ConfirmationRefused, Confirmations } from './confirm';
export { type HttpCaller, type HttpSessionOptions, McpHttpSessions } from './http';
export { createGlassdomeMcp, type GlassdomeMcp, SERVER_NAME, SERVER_VERSION } from './server';
export { type StdioOptions, serveStdio } from './stdio';
