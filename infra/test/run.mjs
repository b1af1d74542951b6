#!/usr/bin/env node
// Runs one test tier (or all of them, in order) with node's test runner and tsx.
//   unit:        */src/**/*.test.ts        beside the code, no services
//   integration: */test/**/*.test.ts       against the real Redis, Postgres and OpenSSH
//   e2e:         */test/**/*.e2e.test.ts   real processes spoken to over HTTP
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const tiers = {
  unit: (file) => file.includes('/src/') && !file.endsWith('.e2e.test.ts'),
  integration: (file) => file.includes('/test/') && !file.endsWith('.e2e.test.ts'),
  e2e: (file) => file.endsWith('.e2e.test.ts'),
};

function findTests(dir, found = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) findTests(path, found);
    else if (entry.name.endsWith('.test.ts')) found.push(relative(root, path));
  }
  return found;
}

const wanted = process.argv[2] ?? 'all';
const names = wanted === 'all' ? Object.keys(tiers) : [wanted];
if (!names.every((name) => name in tiers)) {
  console.error(`usage: run.mjs [${Object.keys(tiers).join('|')}|all] [filter]`);
  process.exit(2);
}
const filter = process.argv[3];
// chaos/ holds `pnpm chaos`; only its bounded subset (an e2e file) is a test.
const all = ['apps', 'packages', 'chaos', 'infra'].flatMap((top) => findTests(join(root, top))).sort();
const files = all.filter((file) => names.some((name) => tiers[name](file)) && (!filter || file.includes(filter)));
if (files.length === 0) {
  console.error(`no test files for ${wanted}${filter ? ` matching ${filter}` : ''}`);
  process.exit(1);
}
// End-to-end files each start a whole stack (five or six processes); on two cores they run one at a
// time, while the lighter tiers run two files at once.
const batches = [
  {
    files: files.filter((file) => !tiers.e2e(file)),
    concurrency: process.env.TEST_CONCURRENCY ?? '2',
    timeoutMs: 300_000,
  },
  // A whole stack and a multi-copy lab on a busy two-core machine: a file gets fifteen minutes.
  {
    files: files.filter((file) => tiers.e2e(file)),
    concurrency: process.env.TEST_E2E_CONCURRENCY ?? '1',
    timeoutMs: 900_000,
  },
];
let status = 0;
for (const batch of batches.filter((b) => b.files.length > 0)) {
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${batch.concurrency}`,
      `--test-timeout=${batch.timeoutMs}`,
      '--test-force-exit',
      ...batch.files,
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
  );
  status ||= result.status ?? 1;
}
process.exit(status);
