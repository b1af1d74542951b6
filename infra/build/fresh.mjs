// Is an app's compiled bundle (apps/<app>/dist/main.js) up to date with what it was built from?
// Kept apart from build.mjs so that callers that only run the bundle (the CLI's bin shim, the stack
// that starts processes) can ask without loading esbuild.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const root = new URL('../..', import.meta.url).pathname;

/** Every process Glassdome runs, each built from apps/<name>/src/main.ts. */
export const APPS = ['api', 'installer', 'gateway', 'overseer', 'pve-sim', 'launcher', 'cli'];

/** Files whose change makes every bundle stale: the build itself and the resolved dependencies. */
const BUILD_INPUTS = ['infra/build/build.mjs', 'pnpm-lock.yaml'];

export function bundlePath(app) {
  return join(root, 'apps', app, 'dist', 'main.js');
}

export function metaPath(app) {
  return join(root, 'apps', app, 'dist', 'inputs.json');
}

function mtimeOf(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Why `app`'s bundle must be rebuilt, or undefined when it is fresh: no bundle yet, a source it was
 * built from changed or vanished (the list esbuild recorded), the build script or the lockfile
 * changed, or a dependency it imports by path is gone (a `pnpm install` moved it).
 */
export function staleReason(app) {
  const bundle = bundlePath(app);
  const builtAt = mtimeOf(bundle);
  if (builtAt === undefined) return 'not built yet';
  let meta;
  try {
    meta = JSON.parse(readFileSync(metaPath(app), 'utf8'));
  } catch {
    return 'no record of its inputs';
  }
  for (const input of [...BUILD_INPUTS, ...meta.inputs]) {
    const changed = mtimeOf(join(root, input));
    if (changed === undefined) return `${input} is gone`;
    if (changed > builtAt) return `${input} changed`;
  }
  for (const external of meta.externals) {
    if (!existsSync(resolve(dirname(bundle), external))) return `dependency ${external} is gone`;
  }
  return undefined;
}
