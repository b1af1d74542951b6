#!/usr/bin/env node
// The `glassdome` command: runs the compiled bundle (apps/cli/dist/main.js, `pnpm build`) when it is
// up to date with the sources, else the TypeScript entry point through tsx.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/main.js', import.meta.url);
const fresh = new URL('../../../infra/build/fresh.mjs', import.meta.url);
const useBundle =
  existsSync(bundle) && (!existsSync(fresh) || (await import(fresh.href)).staleReason('cli') === undefined);
if (useBundle) {
  process.setSourceMapsEnabled(true);
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
