#!/usr/bin/env node
// Runs one test tier (or all of them, in order) with node's test runner and tsx.
//   unit:        */src/**/*.test.ts        beside the code, no services
//   integration: */test/**/*.test.ts       against the real Redis, Postgres and OpenSSH
//   e2e:         */test/**/*.e2e.test.ts   real processes spoken to over HTTP
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
/**
 * Each file's wall time from the last run that recorded it in infra/test/durations.tsv (lines as
 * durations.mjs writes them, the later line of a file winning). Refresh it with
 * `rm infra/test/durations.tsv; TEST_DURATIONS=infra/test/durations.tsv pnpm test`.
 */
function knownDurations() {
  const path = join(root, 'infra/test/durations.tsv');
  const known = new Map();
  if (!existsSync(path)) return known;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [ms, , , file] = line.split('\t');
    if (file) known.set(file, Number(ms));
  }
  return known;
}

/**
 * The longest files first, so that files running side by side end close together rather than one
 * long file running on alone at the end; a file with no recorded time goes first (it may be long).
 */
function longestFirst(batchFiles) {
  const known = knownDurations();
  const ms = (file) => known.get(file) ?? Number.POSITIVE_INFINITY;
  return [...batchFiles].sort((a, b) => ms(b) - ms(a) || a.localeCompare(b));
}

// The lighter tiers run two files at once. End-to-end files each start a whole stack (five or six
// processes), yet spend most of their time waiting on timers (a lab TTL, a job lock, retries): a run
// one at a time left half of two cores idle (2026-12-07), so they too run two at a time, the longest
// first.
const batches = [
  {
    files: longestFirst(files.filter((file) => !tiers.e2e(file))),
    concurrency: process.env.TEST_CONCURRENCY ?? '2',
    timeoutMs: 300_000,
  },
  // A whole stack and a multi-copy lab on a busy two-core machine: a file gets fifteen minutes.
  {
    files: longestFirst(files.filter((file) => tiers.e2e(file))),
    concurrency: process.env.TEST_E2E_CONCURRENCY ?? '2',
    timeoutMs: 900_000,
    prepare: buildForE2e,
  },
];
/**
 * The pids of the processes in process group `group`, from /proc: a test file's children stay in the
 * group after their test process dies (a file the runner killed on its timeout leaves them running).
 */
function groupMembers(group) {
  const members = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name (which may hold spaces): state, ppid, pgrp. A zombie is already
      // gone but for its parent's reaping.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === group && state !== 'Z') members.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return members;
}

function commandOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 160);
  } catch {
    return '?';
  }
}

function signalGroup(group, signal) {
  try {
    process.kill(-group, signal);
  } catch {
    // The group is gone already.
  }
}

/**
 * Runs one batch in a process group of its own, and afterwards stops whatever of that group is still
 * running (SIGTERM, then SIGKILL), naming it: no process outlives the run.
 */
async function runBatch(batch) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'infra/test/batch.mjs'),
      JSON.stringify({
        files: batch.files.map((file) => join(root, file)),
        concurrency: Number(batch.concurrency),
        timeoutMs: batch.timeoutMs,
      }),
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' }, detached: true },
  );
  // Ctrl-C or a stop of the runner reaches the whole group, as it would without a group of its own.
  const forward = (signal) => () => signalGroup(child.pid, signal);
  const handlers = { SIGINT: forward('SIGINT'), SIGTERM: forward('SIGTERM') };
  for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  const code = await new Promise((resolve) => child.on('exit', (exitCode) => resolve(exitCode ?? 1)));
  for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
  const left = groupMembers(child.pid);
  if (left.length > 0) {
    console.error(`run.mjs: ${left.length} process(es) outlived their tests; stopping them:`);
    for (const pid of left) console.error(`  ${pid} ${commandOf(pid)}`);
    signalGroup(child.pid, 'SIGTERM');
    const deadline = Date.now() + 5_000;
    while (groupMembers(child.pid).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (groupMembers(child.pid).length > 0) signalGroup(child.pid, 'SIGKILL');
  }
  return code;
}

/**
 * End-to-end files build what they start when it is stale (the apps' bundles, the web UI); two files
 * side by side would build the same output at once (a UI build empties dist/ first), so when they run
 * side by side it is built before they start. One file alone builds only what it starts.
 */
function buildForE2e(batch) {
  if (batch.files.length < 2 || Number(batch.concurrency) < 2) return 0;
  const builds = [
    [join(root, 'infra/build/build.mjs'), '--if-stale'],
    [join(root, 'apps/web/scripts/build-if-stale.mjs')],
  ];
  for (const args of builds) {
    const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) return result.status ?? 1;
  }
  return 0;
}

let status = 0;
for (const batch of batches.filter((b) => b.files.length > 0)) {
  if (batch.prepare) status ||= batch.prepare(batch);
  status ||= await runBatch(batch);
}
process.exit(status);
