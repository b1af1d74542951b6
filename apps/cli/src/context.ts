import type { Command } from 'commander';
import { ApiClient } from './api-client';
import { type ConfigFile, defaultConfigPath, readConfigFile } from './config-file';
import { resolveConnection } from './connection';

/** Where the CLI reads and writes: the real process in main.ts, buffers or a pty in tests. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

interface GlobalOptions {
  apiUrl?: string;
  apiKey?: string;
  config?: string;
}

/** What every command needs, resolved lazily from the global options of the command being run. */
export class CliContext {
  constructor(
    readonly io: CliIo,
    private readonly program: Command,
  ) {}

  get env(): NodeJS.ProcessEnv {
    return this.io.env;
  }

  get isTty(): boolean {
    return this.io.stdout.isTTY === true;
  }

  /** The program's own options (--api-url, --api-key, --config). */
  get globalOptions(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  get configPath(): string {
    return this.globalOptions.config ?? defaultConfigPath(this.env);
  }

  config(): ConfigFile {
    return readConfigFile(this.configPath);
  }

  client(): ApiClient {
    return new ApiClient(resolveConnection(this.globalOptions, this.env, this.config()));
  }

  /** One line to stdout. */
  print(line = ''): void {
    this.io.stdout.write(`${line}\n`);
  }

  /** Machine-readable output for `--json`: pretty-printed so it also reads well by eye. */
  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A note for the human (stderr), so it never mixes into output a script parses. */
  note(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }
}
