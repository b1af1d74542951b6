#!/usr/bin/env node
// Generates src/api/schema.gen.ts (git-ignored), the API's types; `pnpm typecheck` and the UI build
// run it first, so the UI is always checked against the API as it is. `--check` fails when the file
// is stale instead of writing it. See infra/build/api-types.mjs.
import openapiTS, { astToString } from 'openapi-typescript';
import { writeApiTypes } from '../../../infra/build/api-types.mjs';

await writeApiTypes({
  openapiTS,
  astToString,
  name: 'apps/web',
  filter: '@glassdome/web',
  check: process.argv.includes('--check'),
});
