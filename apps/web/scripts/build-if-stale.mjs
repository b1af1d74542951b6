#!/usr/bin/env node
// Builds the web UI (vite build) when dist/ is missing or older than anything it is built from:
// what `pnpm start`, the end-to-end tests and the Docker image run, so the API always serves a
// current UI without anyone remembering a build step. Exits non-zero when the build fails.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { changedSince } from '../../../infra/build/fresh.mjs';

const web = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(web, 'dist', 'index.html');
const inputs = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json', 'scripts/build-if-stale.mjs'];

function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((entry) => newest(join(path, entry))));
}

export function isStale() {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return inputs.some((input) => newest(join(web, input)) > built);
}

// The API's types first: a changed API regenerates them, which makes the build stale. Generating
// them takes seconds, so they are regenerated only when a source of the API's last build (which holds
// everything its OpenAPI document is made of) changed after they were last checked: `typesChecked`,
// in dist/, written when this script ends with the time it began (a UI build empties dist/ first).
const startedAt = new Date();
const typesChecked = join(web, 'dist', '.api-types-checked');
const checkedAt = existsSync(typesChecked) ? statSync(typesChecked).mtimeMs : 0;
const generator = ['scripts/gen-api.mjs', '../../infra/build/api-types.mjs'].map((path) => join(web, path));
if (checkedAt === 0 || changedSince('api', checkedAt) || generator.some((path) => statSync(path).mtimeMs > checkedAt)) {
  const types = spawnSync(process.execPath, [join(web, 'scripts', 'gen-api.mjs')], { stdio: 'inherit' });
  if (types.status !== 0) process.exit(types.status ?? 1);
}

if (isStale()) {
  process.stdout.write('web: building the UI (apps/web → apps/web/dist)\n');
  const vite = join(web, 'node_modules', 'vite', 'bin', 'vite.js');
  // Always the production build: under NODE_ENV=test (the test runner's) or development, Vite bundles
  // React's development build (twice the size, effects run twice under StrictMode).
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
    cwd: web,
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (result.status !== 0) {
    process.stderr.write('web: the UI build failed\n');
    process.exit(result.status ?? 1);
  }
} else {
  process.stdout.write('web: the UI build is current\n');
}
writeFileSync(typesChecked, '');
utimesSync(typesChecked, startedAt, startedAt);
