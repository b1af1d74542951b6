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
  const meta = readMeta(app);
  if (!meta) return 'no record of its inputs';
  const changed = changedInput(meta, builtAt);
  if (changed) return changed;
  for (const external of meta.externals) {
    if (!existsSync(resolve(dirname(bundle), external))) return `dependency ${external} is gone`;
  }
  return undefined;
}

function readMeta(app) {
  try {
    return JSON.parse(readFileSync(metaPath(app), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Why something made at `time` (ms) is older than what `meta`'s build read, or undefined when it is not. */
function changedInput(meta, time) {
  for (const input of [...BUILD_INPUTS, ...meta.inputs]) {
    const changed = mtimeOf(join(root, input));
    if (changed === undefined) return `${input} is gone`;
    if (changed > time) return `${input} changed`;
  }
  return undefined;
}

/**
 * Whether any source `app`'s last build read (or the build script, or the lockfile) changed after
 * `time` (ms since the epoch); true when there is no record of a build. A file newly imported since
 * is covered: the file that imports it changed too.
 */
export function changedSince(app, time) {
  const meta = readMeta(app);
  return !meta || changedInput(meta, time) !== undefined;
}
