#!/usr/bin/env node
// Runs one test tier (or all of them, in order) with node's test runner and tsx.
//   unit:        */src/**/*.test.ts        beside the code, no services
//   integration: */test/**/*.test.ts       against the real Redis, Postgres and OpenSSH
//   e2e:         */test/**/*.e2e.test.ts   real processes spoken to over HTTP
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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
 * With TEST_DURATIONS=<path>, each file's wall time is appended to <path> (see durations.mjs), next to
 * node's usual reporter (spec on a terminal, tap otherwise).
 */
function durationReporters() {
  if (!process.env.TEST_DURATIONS) return [];
  return [
    `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'infra/test/durations.mjs')}`,
    '--test-reporter-destination=stdout',
  ];
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
      '--test',
      `--test-concurrency=${batch.concurrency}`,
      `--test-timeout=${batch.timeoutMs}`,
      '--test-force-exit',
      ...durationReporters(),
      ...batch.files,
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

let status = 0;
for (const batch of batches.filter((b) => b.files.length > 0)) status ||= await runBatch(batch);
process.exit(status);
