import { Command, CommanderError } from 'commander';
import { registerLabCommands } from './commands/lab';
import { registerMcpCommand } from './commands/mcp';
import { registerNetworkCommands } from './commands/network';
import { registerOverseerCommands } from './commands/overseer';
import { registerPoolCommands } from './commands/pool';
import { registerStatusCommand } from './commands/status';
import { registerTemplateCommands } from './commands/templates';
import { registerVmCommands } from './commands/vm';
import { CliContext, type CliIo } from './context';
import { ExitCode } from './errors';
import { describeError } from './format-error';
import { registerSetupCommand } from './setup/command';

/** The whole `glassdome` command tree, writing to `io`. A fresh one per run, so runs never share state. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('glassdome');
  const ctx = new CliContext(io, program);
  program
    .description('Deploy and watch VMs and labs on Glassdome, the cyber-range platform.')
    .option('--api-url <url>', 'API base URL (env GLASSDOME_URL, else the config file, else http://127.0.0.1:8001)')
    .option(
      '--api-key <key>',
      'API key (env GLASSDOME_API_KEY, else the config file; the flag shows in ps, the env var does not)',
    )
    .option('--config <file>', 'config file (env GLASSDOME_CONFIG, else ~/.config/glassdome/config.yaml)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 the work failed, 2 bad usage or input, 3 the API cannot be reached.')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    // Subcommands inherit these when created: every error comes back to runCli as an exception.
    .exitOverride();
  registerSetupCommand(program, ctx);
  registerVmCommands(program, ctx);
  registerLabCommands(program, ctx);
  registerPoolCommands(program, ctx);
  registerTemplateCommands(program, ctx);
  registerNetworkCommands(program, ctx);
  registerOverseerCommands(program, ctx);
  registerStatusCommand(program, ctx);
  registerMcpCommand(program, ctx);
  return program;
}

/** Runs one command line; answers the exit code (see ExitCode) instead of exiting, so tests can call it. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed its message (or the help); only the exit code is ours to choose.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const { line, exitCode } = describeError(error);
    io.stderr.write(`${line}\n`);
    return exitCode;
  }
}
