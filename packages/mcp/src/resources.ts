/**
 * Resources: the lab spec's JSON Schema and documentation, the catalog (with full specs), the OS
 * profiles and templates, and each lab's current state, which a client may subscribe to: the server
 * follows the lab's event stream and sends `notifications/resources/updated` on every change.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  ErrorCode,
  McpError,
  type ReadResourceResult,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { OpenApiDocument } from './api/client';
import { ApiCallError, ApiUnreachableError } from './api/errors';
import { followLab } from './api/events';
import { editableSpec, type NormalisedSpec } from './design/spec-facts';
import { labState } from './lab-state';
import type { ToolContext } from './tools/define';

const LABS_DOC = fileURLToPath(new URL('../../../docs/labs.md', import.meta.url));
const LAB_URI = /^glassdome:\/\/labs\/([0-9a-f-]{36})$/i;
/** MCP's code for a resource that does not exist (or that this key may not see). */
const RESOURCE_NOT_FOUND = -32002;

function json(uri: string, data: unknown): ReadResourceResult {
  return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(data, null, 2) }] };
}

/** A failed read as an MCP error with the API's message. */
function asMcpError(error: unknown): McpError {
  if (error instanceof McpError) return error;
  if (error instanceof ApiCallError) {
    return new McpError(
      error.status === 404 ? RESOURCE_NOT_FOUND : ErrorCode.InvalidRequest,
      `${error.message} (the API answered ${error.status} ${error.code})`,
    );
  }
  if (error instanceof ApiUnreachableError) return new McpError(ErrorCode.InternalError, error.message);
  return new McpError(ErrorCode.InternalError, 'the MCP server could not read this resource (the error is in its log)');
}

function reading<A extends unknown[]>(ctx: ToolContext, read: (...args: A) => Promise<ReadResourceResult>) {
  return async (...args: A) => {
    try {
      return await read(...args);
    } catch (error) {
      const mapped = asMcpError(error);
      if (!(error instanceof ApiCallError)) ctx.logger.warn({ err: error }, 'mcp resource read failed');
      throw mapped;
    }
  };
}

/** The lab spec's JSON Schema, as the API's OpenAPI document gives it for `POST /labs`. */
export function labSpecSchemaOf(document: OpenApiDocument): unknown {
  const body = document.paths['/labs']?.post?.requestBody?.content?.['application/json']?.schema as
    | { oneOf?: { properties?: Record<string, unknown> }[] }
    | undefined;
  return body?.oneOf?.find((schema) => schema.properties?.vms !== undefined) ?? body ?? null;
}

/** Follows subscribed labs' event streams, telling the client when a lab's state resource changed. */
export class LabSubscriptions {
  private readonly follows = new Map<string, AbortController>();

  constructor(
    private readonly ctx: ToolContext,
    private readonly notify: (uri: string) => Promise<void>,
  ) {}

  get size(): number {
    return this.follows.size;
  }

  async subscribe(uri: string): Promise<void> {
    const match = LAB_URI.exec(uri);
    if (!match)
      throw new McpError(
        ErrorCode.InvalidParams,
        `only lab state resources (glassdome://labs/{labId}) can be subscribed to, not ${uri}`,
      );
    const labId = match[1]!.toLowerCase();
    // The key must see the lab: the API's 404 (or 403) is the answer.
    await this.ctx.api.getLab(labId).catch((error) => {
      throw asMcpError(error);
    });
    if (this.follows.has(uri)) return;
    const controller = new AbortController();
    this.follows.set(uri, controller);
    this.ctx.logger.info(
      { keyId: this.ctx.identity.keyId, project: this.ctx.identity.project, labId },
      'mcp lab subscription started',
    );
    void this.follow(uri, labId, controller.signal);
  }

  unsubscribe(uri: string): void {
    this.follows.get(uri)?.abort();
    this.follows.delete(uri);
  }

  close(): void {
    for (const controller of this.follows.values()) controller.abort();
    this.follows.clear();
  }

  /**
   * Reads the lab's stream from the start: the replay (everything before its first status event) is
   * the state the client just read, so only what comes after it is a change. Notifications are
   * coalesced (one per 200 ms at most); the stream is reopened after it ends, from the last event seen.
   */
  private async follow(uri: string, labId: string, signal: AbortSignal): Promise<void> {
    let lastId = 0;
    let lastStatus: string | undefined;
    let caughtUp = false;
    let pending: NodeJS.Timeout | undefined;
    const changed = () => {
      if (pending || signal.aborted) return;
      pending = setTimeout(() => {
        pending = undefined;
        if (!signal.aborted) this.notify(uri).catch(() => this.unsubscribe(uri));
      }, 200);
    };
    for (let backoff = 500; !signal.aborted; backoff = Math.min(backoff * 2, 10_000)) {
      try {
        await followLab(
          this.ctx.api,
          labId,
          lastId,
          (item) => {
            if (item.type === 'event') {
              lastId = item.event.id;
              if (caughtUp) changed();
              return;
            }
            if (caughtUp && item.status !== lastStatus) changed();
            lastStatus = item.status;
            caughtUp = true;
          },
          signal,
        );
        backoff = 500;
      } catch (error) {
        if (error instanceof ApiCallError && error.status === 404) break;
        this.ctx.logger.debug({ labId, err: error }, 'lab event stream broke; reopening');
      }
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
    clearTimeout(pending);
    this.follows.delete(uri);
  }
}

export async function registerResources(
  server: McpServer,
  ctx: ToolContext,
  document: OpenApiDocument,
  options: { canDryRun: boolean },
): Promise<LabSubscriptions> {
  const { api } = ctx;

  server.registerResource(
    'lab-spec-docs',
    'glassdome://docs/labs',
    {
      title: 'Lab spec documentation',
      description: 'How to write a lab spec, with examples (docs/labs.md)',
      mimeType: 'text/markdown',
    },
    reading(ctx, async (uri) => ({
      contents: [{ uri: uri.href, mimeType: 'text/markdown', text: await readFile(LABS_DOC, 'utf8') }],
    })),
  );

  server.registerResource(
    'lab-spec-schema',
    'glassdome://schema/lab-spec',
    {
      title: 'Lab spec JSON Schema',
      description: 'The JSON Schema of a lab spec (from the API’s OpenAPI document)',
      mimeType: 'application/schema+json',
    },
    reading(ctx, async (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'application/schema+json',
          text: JSON.stringify(labSpecSchemaOf(await api.openApi()), null, 2),
        },
      ],
    })),
  );

  const hasTemplateDetail = Boolean(document.paths['/lab-templates/{id}']?.get);
  /** A catalog lab's full spec (and parameters, where the API has them). */
  const catalogEntry = async (id: string): Promise<Record<string, unknown>> => {
    if (hasTemplateDetail)
      return api.request<Record<string, unknown>>('GET', `/lab-templates/${encodeURIComponent(id)}`);
    const entry = (await api.catalog()).items.find((item) => item.id === id);
    if (!entry) throw new ApiCallError(404, 'not_found', `no catalog lab ${id}`);
    if (!options.canDryRun)
      return { ...entry, spec: null, note: 'this key cannot run the dry run that shows the full spec' };
    const dryRun = await api.dryRun({ template: id });
    return { ...entry, spec: editableSpec(dryRun.spec as unknown as NormalisedSpec) };
  };

  server.registerResource(
    'catalog',
    'glassdome://catalog',
    { title: 'Lab catalog', description: 'The built-in labs, each with its full spec', mimeType: 'application/json' },
    reading(ctx, async (uri) => {
      const { items } = await api.catalog();
      return json(uri.href, { items: await Promise.all(items.map((item) => catalogEntry(item.id))) });
    }),
  );

  server.registerResource(
    'catalog-lab',
    new ResourceTemplate('glassdome://catalog/{id}', {
      list: async () => ({
        resources: (await api.catalog()).items.map((item) => ({
          uri: `glassdome://catalog/${item.id}`,
          name: item.id,
          title: item.title,
          description: item.description,
          mimeType: 'application/json',
        })),
      }),
    }),
    { title: 'A catalog lab', description: 'One built-in lab with its full spec', mimeType: 'application/json' },
    reading(ctx, async (uri, variables) => json(uri.href, await catalogEntry(String(variables.id)))),
  );

  server.registerResource(
    'os-profiles',
    'glassdome://os-profiles',
    {
      title: 'OS profiles and templates',
      description: 'OSes a VM may name, their default sizes and users, and the templates built',
      mimeType: 'application/json',
    },
    reading(ctx, async (uri) => {
      const [profiles, templates] = await Promise.all([api.osProfiles(), api.templates()]);
      return json(uri.href, { profiles: profiles.items, templates: (templates as { items: unknown[] }).items });
    }),
  );

  server.registerResource(
    'lab-state',
    new ResourceTemplate('glassdome://labs/{labId}', {
      list: async () => ({
        resources: (await api.listLabs({ limit: 50 })).items.map((lab) => ({
          uri: `glassdome://labs/${lab.id}`,
          name: lab.name,
          description: `lab ${lab.name} (${lab.status})`,
          mimeType: 'application/json',
        })),
      }),
    }),
    {
      title: 'A lab’s current state',
      description:
        'Status, VMs with addresses and steps, tasks, networks, rules and isolation matrix; subscribe to be told of every change',
      mimeType: 'application/json',
    },
    reading(ctx, async (uri, variables) => json(uri.href, await labState(api, String(variables.labId)))),
  );

  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  const subscriptions = new LabSubscriptions(ctx, (uri) => server.server.sendResourceUpdated({ uri }));
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    await subscriptions.subscribe(request.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscriptions.unsubscribe(request.params.uri);
    return {};
  });
  return subscriptions;
}
