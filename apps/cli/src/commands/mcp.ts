import { createLogger } from '@glassdome/logger';
import { ApiCallError, ApiUnreachableError as McpApiUnreachable, serveStdio } from '@glassdome/mcp';
import type { Command } from 'commander';
import { resolveConnection } from '../connection';
import type { CliContext } from '../context';
import { ApiRequestError, ApiUnreachableError, UsageError } from '../errors';

/** `glassdome mcp`: Glassdome's MCP server on stdin/stdout, for desktop assistants (docs/mcp.md). */
export function registerMcpCommand(program: Command, ctx: CliContext): void {
  program
    .command('mcp')
    .description(
      'serve Glassdome to an AI assistant over MCP on stdin/stdout, with the API key’s role and project (docs/mcp.md)',
    )
    .option('--confirm-ttl <seconds>', 'how long a confirmation token of an acting tool stays good', '120')
    .action(async (options: { confirmTtl: string }) => {
      const seconds = Number(options.confirmTtl);
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
        throw new UsageError('--confirm-ttl: must be a whole number of seconds from 1 to 3600');
      }
      const connection = resolveConnection(ctx.globalOptions, ctx.env, ctx.config());
      // stdout carries the protocol: the log (JSON lines) goes to stderr.
      const logger = createLogger({
        name: 'mcp',
        level: ctx.env.LOG_LEVEL ?? 'info',
        destination: ctx.io.stderr as NodeJS.WritableStream,
      });
      try {
        await serveStdio({
          baseUrl: connection.apiUrl,
          apiKey: connection.apiKey,
          logger,
          confirmTtlMs: seconds * 1000,
        });
      } catch (error) {
        if (error instanceof McpApiUnreachable) throw new ApiUnreachableError(error.baseUrl, error.reason);
        if (error instanceof ApiCallError) throw new ApiRequestError(error.status, error.code, error.message);
        throw error;
      }
    });
}
