/**
 * Start-up time and resident memory of every Glassdome process, run the way `pnpm start` and the
 * image run them (the compiled bundle, apps/<app>/dist/main.js) and the way they ran before (the
 * TypeScript through tsx), alternating the two in each round so that the machine's load falls on
 * both alike.
 *
 *   pnpm exec tsx bench/startup.bench.ts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type AppName,
  appArgs,
  ensureBuilt,
  freePort,
  type RunFrom,
  type RunningProcess,
  repoRoot,
  simulatorEnv,
  startProcess,
  startSimulator,
  tsxArgs,
} from '../packages/stack/src/index';
import { createRedisPrefix, createTestDatabase } from '../packages/testkit/src/index';

const ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS ?? 3);
/** How long a started process idles before its memory is read (timers, pools and caches settle). */
const SETTLE_MS = 2_000;
const MODES: RunFrom[] = ['source', 'dist'];

interface Sample {
  startMs: number;
  rssMiB: number;
}

function rssMiB(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? Number.NaN) / 1024;
}

/** RSS of a process and every process below it (the launcher's whole stack). */
function treeRssMiB(pid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const walk = (p: number): number => rssMiB(p) + (children.get(p) ?? []).reduce((sum, c) => sum + walk(c), 0);
  return walk(pid);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed(
  app: AppName,
  from: RunFrom,
  env: Record<string, string>,
  ready: string,
): Promise<{ sample: Sample; process: RunningProcess }> {
  const started = performance.now();
  const child = startProcess(process.execPath, appArgs(app, from), { cwd: repoRoot, name: app, env });
  await child.waitForOutput(ready, 120_000);
  const startMs = performance.now() - started;
  await sleep(SETTLE_MS);
  return { sample: { startMs, rssMiB: rssMiB(child.child.pid) }, process: child };
}

export async function run(): Promise<string> {
  const buildStarted = performance.now();
  execFileSync(process.execPath, [join(repoRoot, 'infra/build/build.mjs')], { stdio: 'ignore' });
  const buildMs = performance.now() - buildStarted;
  const apps: AppName[] = ['pve-sim', 'api', 'installer', 'gateway', 'overseer', 'launcher', 'cli'];
  for (const app of apps) ensureBuilt(app);

  const database = await createTestDatabase('bench_startup');
  const redis = createRedisPrefix('bench-startup');
  const dir = mkdtempSync(join(tmpdir(), 'gd-bench-startup-'));
  const guestKeyFile = join(dir, 'guest_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'glassdome', '-f', guestKeyFile]);
  const samples = new Map<string, Sample[]>();
  const record = (name: string, from: RunFrom, sample: Sample) => {
    const key = `${name}/${from}`;
    samples.set(key, [...(samples.get(key) ?? []), sample]);
  };
  const sim = await startSimulator({ timeScale: 0.01, tls: false, env: { LOG_LEVEL: 'warn' } });
  const baseEnv: Record<string, string> = {
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: redis.prefix,
    LOG_LEVEL: 'info',
    ...simulatorEnv(sim.info),
    GLASSDOME_ADMIN_KEY: `gd_admin_${randomBytes(18).toString('hex')}`,
    GUEST_SSH_KEY_FILE: guestKeyFile,
    TEMPLATE_VMIDS: `ubuntu-22.04=${sim.info.templateVmid}`,
  };
  try {
    // The first API start migrates the database; it is not counted.
    const warm = startProcess(process.execPath, appArgs('api', 'dist'), {
      cwd: repoRoot,
      env: { ...baseEnv, API_PORT: String(await freePort()) },
    });
    await warm.waitForOutput('api listening', 120_000);
    await warm.stop();

    for (let round = 0; round < ROUNDS; round += 1) {
      for (const from of round % 2 === 0 ? MODES : [...MODES].reverse()) {
        const running: RunningProcess[] = [];
        try {
          const simDir = mkdtempSync(join(tmpdir(), 'gd-bench-sim-'));
          const simProcess = await timed(
            'pve-sim',
            from,
            {
              PVE_SIM_PORT: '0',
              PVE_SIM_SSH_PORT: String(await freePort()),
              PVE_SIM_GUEST_SSH_PORT: String(await freePort()),
              PVE_SIM_TLS: '0',
              PVE_SIM_INFO_FILE: join(simDir, 'info.json'),
              LOG_LEVEL: 'warn',
            },
            'pve-sim listening',
          );
          running.push(simProcess.process);
          record('pve-sim', from, simProcess.sample);
          const api = await timed('api', from, { ...baseEnv, API_PORT: String(await freePort()) }, 'api listening');
          running.push(api.process);
          record('api', from, api.sample);
          for (const worker of ['installer', 'gateway', 'overseer'] as const) {
            const started = await timed(worker, from, baseEnv, `${worker} ready`);
            running.push(started.process);
            record(worker, from, started.sample);
          }
          record('cli', from, cliSample(from));
          rmSync(simDir, { recursive: true, force: true });
        } finally {
          await Promise.all(running.map((child) => child.stop()));
        }
        const launcher = await launcherSample(from, redis);
        record('launcher', from, launcher.own);
        record('pnpm start (all processes)', from, launcher.tree);
      }
    }
  } finally {
    await sim.stop();
    await database.drop();
    await redis.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }

  const rows = [...apps, 'pnpm start (all processes)'].map((name) => {
    const before = samples.get(`${name}/source`) ?? [];
    const after = samples.get(`${name}/dist`) ?? [];
    const cell = (list: Sample[], pick: (s: Sample) => number, digits: number) =>
      list.length === 0 ? '—' : median(list.map(pick)).toFixed(digits);
    const ratio = (pick: (s: Sample) => number) =>
      before.length && after.length ? (median(after.map(pick)) / median(before.map(pick))).toFixed(2) : '—';
    return `| ${name} | ${cell(before, (s) => s.startMs, 0)} ms | ${cell(after, (s) => s.startMs, 0)} ms | ${ratio((s) => s.startMs)} | ${cell(before, (s) => s.rssMiB, 1)} MiB | ${cell(after, (s) => s.rssMiB, 1)} MiB | ${ratio((s) => s.rssMiB)} |`;
  });
  return [
    '## Start-up and memory per process (built, not transpiled)',
    '',
    `Each process started alone against a simulator, Postgres and Redis, median of ${ROUNDS} rounds;`,
    '"tsx" runs the TypeScript sources as every process ran before (`node --import tsx src/main.ts`),',
    '"bundle" the compiled JavaScript `pnpm start`, the image and the end-to-end tests now run',
    '(`node --enable-source-maps dist/main.js`, built by `pnpm build`, esbuild, ' +
      `all seven in ${(buildMs / 1000).toFixed(1)} s this run).`,
    `Start-up: from spawn to the process's ready line (the CLI: \`glassdome --help\` to exit); RSS ${SETTLE_MS / 1000} s after`,
    "ready (the CLI: its peak). The launcher's start-up is the whole stack's (simulator, templates, API, one",
    'installer, gateway, overseer); its last row adds up the RSS of every process it started.',
    '',
    '| process | start-up, tsx | start-up, bundle | ratio | RSS, tsx | RSS, bundle | ratio |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
}

/** `glassdome --help`: wall time and peak RSS, as GNU time reports them. */
function cliSample(from: RunFrom): Sample {
  const started = performance.now();
  const result = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...appArgs('cli', from), '--help'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  const startMs = performance.now() - started;
  const peakKiB = Number(result.stderr.trim().split('\n').at(-1));
  return { startMs, rssMiB: peakKiB / 1024 };
}

/**
 * `pnpm start`'s launcher on a state directory and database of its own (each start generates its
 * own secret key, which the guest key it seals in Postgres needs): time to the banner, its RSS and
 * its tree's.
 */
async function launcherSample(
  from: RunFrom,
  redis: { url: string; prefix: string },
): Promise<{ own: Sample; tree: Sample }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'gd-bench-launcher-'));
  const database = await createTestDatabase('bench_launcher');
  const databaseUrl = database.url;
  const args = from === 'source' ? tsxArgs('apps/launcher/src/main.ts') : appArgs('launcher', 'dist');
  const started = performance.now();
  const launcher = startProcess(process.execPath, args, {
    cwd: repoRoot,
    name: 'launcher',
    env: {
      GLASSDOME_RUN_FROM: from,
      GLASSDOME_STATE_DIR: stateDir,
      GLASSDOME_ENV_FILE: '',
      GLASSDOME_ADMIN_KEY: '',
      API_PORT: String(await freePort()),
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: redis.prefix,
      PVE_SIM_TIME_SCALE: '0.01',
      GLASSDOME_INSTALLERS: '1',
    },
  });
  try {
    await launcher.waitForOutput('Ctrl-C stops everything.', 180_000);
    const startMs = performance.now() - started;
    await sleep(SETTLE_MS);
    const pid = launcher.child.pid!;
    return { own: { startMs, rssMiB: rssMiB(pid) }, tree: { startMs, rssMiB: treeRssMiB(pid) } };
  } finally {
    await launcher.stop(30_000);
    rmSync(stateDir, { recursive: true, force: true });
    await database.drop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  process.stdout.write(`${await run()}\n`);
}
