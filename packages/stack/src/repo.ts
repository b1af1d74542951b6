import { join } from 'node:path';

/** The repository's root: processes are started from their entry points there, under tsx. */
export const repoRoot = new URL('../../../', import.meta.url).pathname;

/** Node arguments that run a TypeScript entry point of the repository. */
export function tsxArgs(entry: string): string[] {
  return ['--import', 'tsx', join(repoRoot, entry)];
}
