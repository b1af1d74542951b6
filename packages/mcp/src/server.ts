/**
 * One MCP server for one caller (one API key): its tools and resources are chosen by the key's role
 * and by what the API's OpenAPI document offers, and every call goes to the public API with that
 * key, so the key's role and project bound everything the assistant can see or do.
 */
import type { Logger } from '@glassdome/logger';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { GlassdomeApi, Identity } from './api/client';
import type { Confirmations } from './confirm';
import { type LabSubscriptions, registerResources } from './resources';
import { registerActingTools } from './tools/acting';
import type { ToolContext } from './tools/define';
import { registerDesignTools } from './tools/design';
import { registerExplainTool } from './tools/explain';
import { registerReadTools } from './tools/read';

export const SERVER_NAME = 'glassdome';
export const SERVER_VERSION = '0.1.0';

export interface GlassdomeMcpOptions {
  api: GlassdomeApi;
  identity: Identity;
  confirmations: Confirmations;
  logger: Logger;
}

export interface GlassdomeMcp {
  server: McpServer;
  subscriptions: LabSubscriptions;
  /** Ends subscriptions and the server's transport. */
  close(): Promise<void>;
}

/** Roles whose keys may change things (the API's own rule: mutations need operator). */
const ACTING_ROLES = new Set(['operator', 'admin']);

function instructions(identity: Identity, acting: boolean): string {
  const scope = identity.role === 'admin' ? 'every project' : `project ${identity.project}`;
  return [
    `Glassdome builds cyber-range labs on Proxmox. You act with API key "${identity.name}" (role ${identity.role}) in ${scope}.`,
    'Read glassdome://docs/labs and glassdome://schema/lab-spec before writing a spec; glassdome://catalog has ready-made labs.',
    'Check a spec with validate_lab_spec and plan_lab before deploying; explain_failure says why a lab failed and what to do.',
    acting
      ? 'Acting tools (deploy_lab, retry_lab, cancel_lab, destroy_lab, …) answer a plan and a confirmation token first: show the plan to the user and call again with confirm only once the user agrees.'
      : 'This key reads only: it has no tools that change anything.',
  ].join('\n');
}

export async function createGlassdomeMcp(options: GlassdomeMcpOptions): Promise<GlassdomeMcp> {
  const { api, identity } = options;
  const document = await api.openApi();
  const acting = ACTING_ROLES.has(identity.role);
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    { instructions: instructions(identity, acting), capabilities: { logging: {} } },
  );
  const ctx: ToolContext = {
    api,
    identity,
    confirmations: options.confirmations,
    logger: options.logger.child({ keyId: identity.keyId, project: identity.project }),
  };
  registerReadTools(server, ctx, { systemStatus: Boolean(document.paths['/system/status']?.get) });
  registerExplainTool(server, ctx, !acting);
  // The API's dry run is a POST, which it allows operators and admins only.
  if (acting) {
    registerDesignTools(server, ctx);
    registerActingTools(server, ctx, document);
  }
  const subscriptions = await registerResources(server, ctx, document, { canDryRun: acting });
  return {
    server,
    subscriptions,
    async close() {
      subscriptions.close();
      await server.close();
    },
  };
}
