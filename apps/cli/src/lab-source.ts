import { existsSync, statSync } from 'node:fs';
import { parseLabSpec } from '@glassdome/lab';
import { readInputFile } from './commands/options';
import { UsageError } from './errors';
import { formatProblems } from './format-error';

/** What `lab deploy` was given: a spec file (checked here first) or the id of a built-in lab. */
export type LabSource = { kind: 'file'; path: string; text: string } | { kind: 'template'; id: string };

const NO_QUOTAS = {
  maxVms: Number.MAX_SAFE_INTEGER,
  maxCpus: Number.MAX_SAFE_INTEGER,
  maxMemoryMiB: Number.MAX_SAFE_INTEGER,
  maxCopies: Number.MAX_SAFE_INTEGER,
  maxTtlSeconds: Number.MAX_SAFE_INTEGER,
};

/** Looks like a path rather than a catalog id, so a missing file is reported as such. */
function looksLikePath(argument: string): boolean {
  return /[/\\]/.test(argument) || /\.(ya?ml|json)$/i.test(argument);
}

/**
 * A file argument is read and validated with the same parser the API uses, so a broken spec fails
 * at once, offline, with one line naming the file and the field (exit 2).
 */
export function labSourceOf(argument: string): LabSource {
  const isFile = existsSync(argument) && statSync(argument).isFile();
  if (!isFile) {
    if (looksLikePath(argument)) throw new UsageError(`${argument}: no such file`);
    return { kind: 'template', id: argument };
  }
  const text = readInputFile(argument);
  // Copies, TTL and totals are the project's quotas, checked by the API: only the spec's own bounds here.
  const parsed = parseLabSpec(text, { contentType: /\.json$/i.test(argument) ? 'json' : 'yaml', quotas: NO_QUOTAS });
  if (!parsed.ok) {
    const problems = parsed.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    throw new UsageError(`${argument}: invalid lab spec: ${formatProblems(problems)}`);
  }
  return { kind: 'file', path: argument, text };
}
