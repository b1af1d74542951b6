#!/usr/bin/env node
// The `glassdome` command: runs the TypeScript entry point through tsx, as every Glassdome process runs.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
