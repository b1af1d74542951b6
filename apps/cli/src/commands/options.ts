import { existsSync, readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../errors';

/** Adds the `--json` flag every command that prints something has. */
export function withJson(command: Command): Command {
  return command.option('--json', 'print the answer as JSON (for scripts)');
}

/** Commander parser for a whole number ≥ 1; a bad value is a usage error (exit 2). */
export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return Number(value);
}

/** Commander reducer for a repeatable option: `--package a --package b` → ['a', 'b']. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** An SSH public key given inline or as the path of a .pub file. */
export function sshPublicKey(value: string): string {
  if (/^(ssh-|ecdsa-|sk-)/.test(value)) return value.trim();
  if (!existsSync(value)) throw new InvalidArgumentError(`${value} is neither a public key nor a file`);
  return readFileSync(value, 'utf8').trim();
}

/** Reads an input file, a missing or unreadable one being a usage error that names it. */
export function readInputFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new UsageError(`${path}: cannot be read (${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')})`);
  }
}
