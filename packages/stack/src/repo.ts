import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The repository's root: processes are started from their entry points there. */
export const repoRoot = new URL('../../../', import.meta.url).pathname;

/** Node arguments that run a TypeScript entry point of the repository through tsx. */
export function tsxArgs(entry: string): string[] {
  return ['--import', 'tsx', join(repoRoot, entry)];
}

/** Glassdome's processes, each an app with its entry point at apps/<app>/src/main.ts. */
export type AppName = 'api' | 'installer' | 'gateway' | 'overseer' | 'pve-sim' | 'launcher' | 'cli';

/**
 * What a started process runs: `dist`, the compiled bundle (apps/<app>/dist/main.js, built when
 * stale — what `pnpm start` and the image run), or `source`, the TypeScript through tsx.
 * GLASSDOME_RUN_FROM picks it. @defaultValue dist
 */
export type RunFrom = 'dist' | 'source';

export function runFrom(env: NodeJS.ProcessEnv = process.env): RunFrom {
  const value = env.GLASSDOME_RUN_FROM ?? 'dist';
  if (value !== 'dist' && value !== 'source') {
    throw new Error(`GLASSDOME_RUN_FROM must be dist or source, not ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * V8 flags a process is started with, wherever it runs (`pnpm start`, docker-compose.yml,
 * infra/k8s; tests keep those in step with this). The API allocates a short-lived object graph per
 * request: young-generation semi-spaces of 32 MiB (16 by default) halve its scavenges, which cut the
 * API's CPU per deploy by about a tenth in the pipeline bench. The installers and the gateway keep
 * V8's defaults: neither `--single-threaded-gc` nor `--no-parallel-scavenge` on both lowered their
 * CPU in the 60-VM lab bench (3 alternated rounds, 2026-12-07: medians per VM fresh 31 ms without,
 * 33 and 37 ms with; warm 25, 26 and 26 ms; the gateway's own CPU went up with either, and the ratio
 * to the critical path missed 1.05 more often).
 */
export const NODE_FLAGS: Readonly<Record<AppName, readonly string[]>> = {
  api: ['--max-semi-space-size=32'],
  installer: [],
  gateway: [],
  overseer: [],
  'pve-sim': [],
  launcher: [],
  cli: [],
};

/** Node arguments that run `app`: its bundle with source maps on, or its source under tsx. */
export function appArgs(app: AppName, from: RunFrom = runFrom()): string[] {
  if (from === 'source') return [...NODE_FLAGS[app], ...tsxArgs(`apps/${app}/src/main.ts`)];
  ensureBuilt(app);
  return ['--enable-source-maps', ...NODE_FLAGS[app], join(repoRoot, 'apps', app, 'dist', 'main.js')];
}

const built = new Set<AppName>();

/**
 * Rebuilds `app`'s bundle if its sources changed (infra/build/build.mjs --if-stale; about a second
 * when stale, a few milliseconds when fresh), once per process, so a started process never runs
 * stale code.
 */
export function ensureBuilt(app: AppName): void {
  if (built.has(app)) return;
  const result = spawnSync(process.execPath, [join(repoRoot, 'infra/build/build.mjs'), '--if-stale', app], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (result.status !== 0) {
    throw new Error(`building ${app} failed (node infra/build/build.mjs ${app}):\n${result.stderr}`);
  }
  built.add(app);
}
