/**
 * The env file (`.glassdome/glassdome.env` by default): `KEY=value` lines that `glassdome setup`
 * writes and `pnpm start` hands to every process. It is read with node's own parser
 * (`util.parseEnv`, the one behind `node --env-file`), so a process started by hand with
 * `node --env-file=.glassdome/glassdome.env …` sees exactly what the launcher passes.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseEnv } from 'node:util';

/** A value node's parser reads back unchanged without quotes. */
const BARE = /^[A-Za-z0-9_.,:/@!+=%{}~*^-]*$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Raised for a variable name or value the file cannot hold; names the variable. */
export class EnvFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvFileError';
  }
}

/** The variables of an env file; an absent file has none. */
export function readEnvFile(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  return parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
}

function quoted(name: string, value: string): string {
  if (BARE.test(value)) return value;
  // Single quotes keep everything literal (no escapes, no comment): right for secrets and URLs.
  if (!value.includes("'") && !value.includes('\n')) return `'${value}'`;
  if (!value.includes('"') && !value.includes('\\')) return `"${value.replaceAll('\n', '\\n')}"`;
  throw new EnvFileError(`${name}: a value holding both quote kinds or a backslash with a newline cannot be written`);
}

/** The file's text: the header as `#` comments, then one `KEY=value` line per variable, in the given order. */
export function formatEnvFile(vars: Record<string, string>, header: string[] = []): string {
  const lines = header.map((line) => `# ${line}`.trimEnd());
  for (const [name, value] of Object.entries(vars)) {
    if (!NAME.test(name)) throw new EnvFileError(`${JSON.stringify(name)} is not a variable name`);
    lines.push(`${name}=${quoted(name, value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Writes the file owner-only (0600; its directory 0700 when created), whole or not at all: written
 * beside it and renamed into place. A file that existed with looser bits is tightened too.
 */
export function writeEnvFile(path: string, vars: Record<string, string>, header: string[] = []): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, formatEnvFile(vars, header), { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}
