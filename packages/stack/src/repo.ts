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
 *
 * What a fresh stack's first lab deploy pays beyond a warm one (perf over the 60-VM lab bench,
 * 2026-12-07, main threads of the api, installers and gateway): about 9 ms per VM, of which lazy
 * compilation (parsing, bytecode) is about 2, IC misses, first literals and tier-up checks about 1,
 * and the rest is code running before V8 has optimized it (interpreter, Sparkplug, generic IC
 * stubs). No installer loads a module during a deploy, and no stack trace is built on the way
 * (source maps cost only their reading at start, 7–26 ms per process). A V8 code cache could only
 * save the compilation, and Node 20 offers none for ES modules (vm.SourceTextModule needs
 * --experimental-vm-modules); a CommonJS bundle compiled through vm.Script with cachedData loses
 * --enable-source-maps' mapping. Flags tried on the api, installers and gateway, alternated with
 * V8's defaults (ms of CPU per VM, fresh / warm deploy): defaults 29.5 (26–36) / 23.5 (17–28) over
 * 8 runs; --interrupt-budget at a quarter (optimize sooner) 37 and 48 / 22 and 28 (the main threads
 * gained, TurboFan's threads lost more); at twice the default 33 (25–34) / 23 (22–26) over 4;
 * --maglev (not yet shipped in Node 20's V8 11.3) 29 and 32 / 26 and 28; no source maps 29 / 26;
 * --no-lazy-feedback-allocation with --max-semi-space-size=32 28 (28–30) / 27 (24–30) against 32
 * (29–34) / 24 (21–25) in the same rounds. None is beyond the noise, so none is used.
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
