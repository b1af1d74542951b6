#!/usr/bin/env node
// The one build step: each process's entry point (apps/<app>/src/main.ts) and the workspace packages
// it imports become one ES module, apps/<app>/dist/main.js, with its source map beside it. Packages
// from node_modules are not bundled (some load files, workers or native add-ons from their own
// folders): each import of one becomes a relative path to the file it resolves to now, since under
// pnpm an app's bundle cannot find its packages' dependencies by name.
//
//   node infra/build/build.mjs [--if-stale] [app…]     (default: every app)
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { APPS, bundlePath, metaPath, root, staleReason } from './fresh.mjs';

/** Bare specifiers that stay as they are: node's own modules. */
const isBuiltin = (path) => path.startsWith('node:');
const isWorkspace = (path) => path.startsWith('@glassdome/');
const isBare = (path) => !path.startsWith('.') && !path.startsWith('/');

function toPosix(path) {
  return path.split('\\').join('/');
}

/**
 * Imports of node_modules packages become relative paths from the bundle to the file esbuild
 * resolves (with node's conditions, as node itself would), recorded so that a later check sees when
 * one disappears. Workspace packages are bundled.
 */
function externalPackages(outdir, externals) {
  return {
    name: 'external-packages',
    setup(builder) {
      builder.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.resolving || !isBare(args.path) || isWorkspace(args.path)) return undefined;
        if (isBuiltin(args.path)) return { path: args.path, external: true };
        const resolved = await builder.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: { resolving: true },
        });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        if (resolved.external) return { path: args.path, external: true };
        let path = toPosix(relative(outdir, resolved.path));
        if (!path.startsWith('.')) path = `./${path}`;
        externals.add(path);
        return { path, external: true };
      });
    },
  };
}

/**
 * `import.meta.url` in a bundled source file would name the bundle; it is rewritten to name the
 * source file it was written in (relative to the bundle, so the tree can move), so paths computed
 * from it (the repository root, the web UI's build, docs) stay what they were.
 */
function sourceLocatedImportMeta(outdir) {
  return {
    name: 'source-located-import-meta',
    setup(builder) {
      builder.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes('/node_modules/')) return undefined;
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return { contents: source, loader: 'ts' };
        const fromBundle = toPosix(relative(outdir, args.path));
        const located = `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`;
        return { contents: source.replaceAll('import.meta.url', located), loader: 'ts' };
      });
    },
  };
}

/** Writes through a temporary name and renames, so a process starting meanwhile never reads half a file. */
function writeAtomically(path, contents) {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
}

export async function buildApp(app) {
  const outfile = bundlePath(app);
  const outdir = dirname(outfile);
  const externals = new Set();
  // Loaded only when something is to be built: a freshness check stays a few milliseconds.
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: root,
    entryPoints: [join(root, 'apps', app, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // node's own resolution: no "module" condition (esbuild adds it by default).
    conditions: ['node'],
    sourcemap: 'linked',
    sourcesContent: false,
    // No keepNames: without minifying, esbuild renames a name only where two bundled modules declare
    // the same one, and keepNames wraps every function and class it creates in a call that sets its
    // name back (per closure made, at run time: about 0.4 ms of an installer's CPU per lab VM). The
    // errors Glassdome throws set their name themselves.
    keepNames: false,
    legalComments: 'none',
    metafile: true,
    write: false,
    logLevel: 'warning',
    plugins: [externalPackages(outdir, externals), sourceLocatedImportMeta(outdir)],
  });
  mkdirSync(outdir, { recursive: true });
  // The map first: a process that reads the new bundle finds its map.
  for (const file of [...result.outputFiles].sort((a, b) => b.path.length - a.path.length)) {
    writeAtomically(file.path, file.contents);
  }
  const inputs = Object.keys(result.metafile.inputs)
    .map(toPosix)
    .filter((input) => !input.includes('node_modules/'));
  writeAtomically(metaPath(app), `${JSON.stringify({ inputs, externals: [...externals].sort() }, null, 1)}\n`);
  return { app, bytes: result.outputFiles.find((file) => file.path === outfile)?.contents.length ?? 0 };
}

/** Builds `apps` (every one by default); with `ifStale`, only those whose sources changed since. */
export async function buildApps({ apps = APPS, ifStale = false } = {}) {
  const unknown = apps.filter((app) => !APPS.includes(app));
  if (unknown.length > 0) throw new Error(`unknown app ${unknown.join(', ')}; known: ${APPS.join(', ')}`);
  const todo = ifStale ? apps.filter((app) => staleReason(app) !== undefined) : apps;
  return Promise.all(todo.map(buildApp));
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const args = process.argv.slice(2);
  const ifStale = args.includes('--if-stale');
  const apps = args.filter((arg) => !arg.startsWith('--'));
  const started = performance.now();
  try {
    const built = await buildApps({ apps: apps.length > 0 ? apps : APPS, ifStale });
    if (built.length > 0 || !ifStale) {
      const list = built.map(({ app, bytes }) => `${app} ${(bytes / 1024).toFixed(0)} KiB`).join(', ');
      process.stderr.write(`build: ${list} in ${(performance.now() - started).toFixed(0)} ms\n`);
    }
  } catch (error) {
    process.stderr.write(`build: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
