#!/usr/bin/env node
// Writes src/api/schema.gen.ts (committed), the types of the API the MCP server calls; `pnpm
// typecheck` runs this with `--check`, which fails when the committed file no longer matches the
// API. See infra/build/api-types.mjs.
import openapiTS, { astToString } from 'openapi-typescript';
import { writeApiTypes } from '../../../infra/build/api-types.mjs';

await writeApiTypes({
  openapiTS,
  astToString,
  name: 'packages/mcp',
  filter: '@glassdome/mcp',
  check: process.argv.includes('--check'),
});
