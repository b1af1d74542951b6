/**
 * How every tool is registered: its call logged with who made it (key id, project, role) and its
 * arguments (secrets redacted), and any failure turned into an MCP tool error carrying the API's own
 * message (or the confirmation's refusal), never a stack trace.
 */
import { decodeSpecText } from '@glassdome/lab';
import type { Logger } from '@glassdome/logger';
import { redactSecrets } from '@glassdome/logger';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { GlassdomeApi, Identity } from '../api/client';
import { ApiCallError, ApiUnreachableError, fieldIssues } from '../api/errors';
import { ConfirmationRefused, type Confirmations } from '../confirm';

/** Everything a tool may use: the API with the caller's key, who the caller is, and this process's confirmations. */
export interface ToolContext {
  api: GlassdomeApi;
  identity: Identity;
  confirmations: Confirmations;
  logger: Logger;
}

/**
 * Argument fields never logged as given: confirmation tokens, and what a VM runs or is given at
 * first boot and after (commands and files may carry passwords).
 */
const UNLOGGED_FIELDS = ['confirm', 'provision', 'runcmd', 'sshKeys'];
/** Arguments that may hold a spec as YAML or JSON text: logged decoded, so the fields above are redacted in them too. */
const SPEC_TEXT_FIELDS = new Set(['spec', 'from', 'to']);

/** The arguments as logged: spec texts decoded (or only their length, when they do not parse), then secrets redacted. */
export function loggableArguments(args: Record<string, unknown>): unknown {
  const decoded = Object.fromEntries(
    Object.entries(args).map(([key, value]) => {
      if (!SPEC_TEXT_FIELDS.has(key) || typeof value !== 'string') return [key, value];
      const text = decodeSpecText(value, 'yaml');
      return [key, text.ok ? { decodedFromText: text.value } : `[spec text, ${value.length} characters, not parsed]`];
    }),
  );
  return redactSecrets(decoded, UNLOGGED_FIELDS);
}

/** A tool's answer as text (for any client) and as structured content (for clients that read it). */
export function jsonResult(data: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data, null, 2) }], structuredContent: data };
}

/** A refusal as an MCP tool error: the message a person can act on, and its parts as data. */
export function errorResult(error: unknown): CallToolResult {
  let message: string;
  let detail: Record<string, unknown>;
  if (error instanceof ApiCallError) {
    const issues = fieldIssues(error.details).map((issue) => `\n- ${issue.path}: ${issue.message}`);
    message = `${error.message} (the API answered ${error.status} ${error.code})${issues.join('')}`;
    detail = {
      status: error.status,
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
    };
  } else if (error instanceof ConfirmationRefused) {
    message = error.message;
    detail = { code: 'confirmation_refused', reason: error.reason, message };
  } else if (error instanceof ApiUnreachableError || error instanceof ToolInputError) {
    message = error.message;
    detail = { code: error instanceof ToolInputError ? 'bad_arguments' : 'api_unreachable', message };
  } else {
    message = 'the MCP server could not complete this call (the error is in its log)';
    detail = { code: 'internal', message };
  }
  return { content: [{ type: 'text', text: message }], structuredContent: { error: detail }, isError: true };
}

/** Arguments that pass the schema but cannot be used together (names the argument). */
export class ToolInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolInputError';
  }
}

export interface ToolDefinition<Shape extends z.ZodRawShape> {
  title: string;
  description: string;
  input: Shape;
  annotations?: ToolAnnotations;
  run: (args: z.infer<z.ZodObject<Shape>>) => Promise<Record<string, unknown>>;
}

export function defineTool<Shape extends z.ZodRawShape>(
  server: McpServer,
  ctx: ToolContext,
  name: string,
  definition: ToolDefinition<Shape>,
): void {
  const callback = async (args: Record<string, unknown>): Promise<CallToolResult> => {
    const started = Date.now();
    const log = ctx.logger.child({
      tool: name,
      keyId: ctx.identity.keyId,
      project: ctx.identity.project,
      role: ctx.identity.role,
    });
    log.info({ arguments: loggableArguments(args) }, 'mcp tool called');
    try {
      const data = await definition.run(args as z.infer<z.ZodObject<Shape>>);
      log.info({ durationMs: Date.now() - started }, 'mcp tool answered');
      return jsonResult(data);
    } catch (error) {
      const known =
        error instanceof ApiCallError ||
        error instanceof ConfirmationRefused ||
        error instanceof ApiUnreachableError ||
        error instanceof ToolInputError;
      if (known) log.info({ durationMs: Date.now() - started, refused: (error as Error).message }, 'mcp tool refused');
      else log.error({ err: error, durationMs: Date.now() - started }, 'mcp tool failed');
      return errorResult(error);
    }
  };
  server.registerTool(
    name,
    {
      title: definition.title,
      description: definition.description,
      inputSchema: definition.input,
      ...(definition.annotations ? { annotations: definition.annotations } : {}),
    },
    callback as never,
  );
}
