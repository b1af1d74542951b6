import type { ApiRequest, ApiResult, Simulator } from '../../sim';
import type { DiskProvenance } from '../provenance';
import type { CommandOutcome, Shell } from '../shell/interpreter';
import { CliParameterError, type OptionSpec, type ParsedCommandLine, parseCommandLine } from './options';

/** Everything a host CLI command can use: the simulator (as root@pam), the node it runs on, the host shell. */
export interface CliContext {
  sim: Simulator;
  node: string;
  shell: Shell;
  /** Told which image each imported disk came from. */
  provenance: DiskProvenance;
}

/** One sub-command of `qm`, `pveum`, `pvesm` or `pvesh`, as PVE's CLIHandler declares it. */
export interface CliCommand {
  /** Words after the program name, e.g. `['user', 'token', 'add']`. */
  words: string[];
  /** Older spellings (`useradd`, `aclmod`, `importdisk`). */
  aliases?: string[][];
  spec: OptionSpec;
  run(context: CliContext, line: ParsedCommandLine): Promise<CommandOutcome>;
}

/** Raised by a command for a failure PVE prints as `<message>` with exit status 255. */
export class CliFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliFailure';
  }
}

/** Exit status of every PVE CLI error (`exit(-1)` in Perl). */
export const CLI_ERROR_EXIT = 255;

/** Runs `program args…` against its command table, printing PVE's error formats. */
export async function runCliProgram(
  program: string,
  commands: CliCommand[],
  args: string[],
  context: CliContext,
): Promise<CommandOutcome> {
  const found = findCommand(commands, args);
  if (!found) {
    const listing = commands.map((command) => `       ${program} ${usageOf(command)}`).join('\n');
    const given = args.length > 0 ? `unknown command '${program} ${args.join(' ')}'` : 'no command specified';
    return {
      stderr: `ERROR: ${given}\nUSAGE: ${program} <COMMAND> [ARGS] [OPTIONS]\n${listing}\n`,
      code: CLI_ERROR_EXIT,
    };
  }
  const { command, rest } = found;
  const usage = `${program} ${usageOf(command)}\n`;
  try {
    return await command.run(context, parseCommandLine(rest, command.spec));
  } catch (error) {
    if (error instanceof CliParameterError) {
      return { stderr: formatParameterError(error) + usage, code: CLI_ERROR_EXIT };
    }
    if (error instanceof CliFailure) return { stderr: withNewline(error.message), code: CLI_ERROR_EXIT };
    throw error;
  }
}

function findCommand(commands: CliCommand[], args: string[]) {
  let best: { command: CliCommand; rest: string[]; length: number } | undefined;
  for (const command of commands) {
    for (const words of [command.words, ...(command.aliases ?? [])]) {
      const matches = words.every((word, index) => args[index] === word);
      if (matches && (!best || words.length > best.length)) {
        best = { command, rest: args.slice(words.length), length: words.length };
      }
    }
  }
  return best;
}

function usageOf(command: CliCommand): string {
  const positional = command.spec.positional.map((name) => `<${name}>`);
  const options = command.spec.options.length > 0 ? ['[OPTIONS]'] : [];
  return [...command.words, ...positional, ...options].join(' ');
}

function formatParameterError(error: CliParameterError): string {
  const lines = [...error.lines, `400 ${error.message}`];
  for (const [name, message] of Object.entries(error.errors)) lines.push(`${name}: ${message.trimEnd()}`);
  return `${lines.join('\n')}\n`;
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * Calls the API as root@pam (the host's CLI runs with full rights) and turns an error answer into
 * the CLI's error: parameter errors as `400 Parameter verification failed.` with one line per field,
 * other failures as their message.
 */
export async function callApi(
  context: CliContext,
  method: ApiRequest['method'],
  path: string,
  params: Record<string, string> = {},
): Promise<unknown> {
  const result = await context.sim.dispatch({ method, path, params, auth: { userid: 'root@pam' } });
  if (result.status === 200) return result.data;
  throw apiFailure(result);
}

function apiFailure(result: ApiResult): Error {
  const message = (result.message ?? `${result.status} error`).trimEnd();
  if (result.errors) return new CliParameterError(message, result.errors);
  // Plain `die` messages (most 500s) print bare; PVE exceptions carrying a code print it first.
  return new CliFailure(result.status === 500 ? message : `${result.status} ${message}`);
}

/**
 * Waits for a task the way the CLI runs workers in the foreground: the task's log is the command's
 * output; a failed task prints its error and exits 255.
 */
export async function followTask(context: CliContext, upid: unknown): Promise<CommandOutcome> {
  if (typeof upid !== 'string' || !upid.startsWith('UPID:')) return {};
  const { exitstatus, log } = await context.sim.waitForTask(upid);
  const output = log.filter((line) => !/^TASK (OK|WARNINGS|ERROR)/.test(line));
  const stdout = output.map((line) => `${line}\n`).join('');
  if (exitstatus === 'OK' || exitstatus.startsWith('WARNINGS')) return { stdout };
  return { stdout, stderr: withNewline(exitstatus), code: CLI_ERROR_EXIT };
}
