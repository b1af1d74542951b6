/**
 * `POST /api/v1/vms` at full speed, measured the way an outside load generator sees it: wrk (16
 * connections, 2 threads) against the API process running its compiled bundle, every request a new
 * VM, no workers (only the API is measured: each accepted deploy is a committed row, its planned
 * steps and an intent relayed to BullMQ). Target: ≥ 1,000 accepted/s with p99 < 50 ms.
 *
 *   pnpm exec tsx bench/api-deploy-rate.bench.ts      (needs wrk: apt-get install wrk)
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { appArgs, freePort, NODE_FLAGS, repoRoot, startProcess } from '../packages/stack/src/index';
import { createRedisPrefix, createTestDatabase } from '../packages/testkit/src/index';
import { viaPostgresSocket } from './pg-socket';

const CONNECTIONS = Number(process.env.BENCH_WRK_CONNECTIONS ?? 16);
const SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 10);

/** wrk's script: unique VM names per thread and request, 202s counted, a JSON line at the end. */
const SCRIPT = `
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  counter = 0
  accepted = 0
  refused = 0
  prefix = "w" .. tid .. "-" .. os.time() .. "-"
end
function request()
  counter = counter + 1
  local body = '{"name":"' .. prefix .. counter .. '","os":"debian-12"}'
  return wrk.format("POST", "/api/v1/vms", { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("GD_KEY") }, body)
end
function response(status)
  if status == 202 then accepted = accepted + 1 else refused = refused + 1 end
end
function done(summary, latency, requests)
  local a, r = 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("accepted")
    r = r + thread:get("refused")
  end
  io.write(string.format('{"accepted":%d,"refused":%d,"seconds":%f,"p50":%f,"p90":%f,"p99":%f,"errors":%d}\\n',
    a, r, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
`;

interface WrkResult {
  accepted: number;
  refused: number;
  seconds: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
}

/** Runs wrk with `script` (asynchronously: the caller's event loop keeps running, e.g. workers). */
export async function wrk(url: string, key: string, seconds: number, script: string): Promise<WrkResult> {
  const child = spawn('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', script, url], {
    env: { ...process.env, GD_KEY: key },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`wrk: ${error.message} (apt-get install wrk)`)));
    child.once('close', () => resolve());
  });
  const line = stdout.split('\n').find((l) => l.startsWith('{"accepted"'));
  if (!line) throw new Error(`wrk said:\n${stdout}\n${stderr}`);
  return JSON.parse(line) as WrkResult;
}

/** wrk's deploy script in a temporary directory; `remove` deletes it. */
export function deployScript(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'gd-wrk-'));
  const path = join(dir, 'deploy.lua');
  writeFileSync(path, SCRIPT);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Requests/s of `GET /healthz` on the same process: the HTTP floor. */
function healthzRate(url: string): number {
  const result = spawnSync('wrk', ['-t2', `-c${CONNECTIONS}`, '-d3s', `${url}/healthz`], { encoding: 'utf8' });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(result.stdout)?.[1] ?? Number.NaN);
}

/** The API process as deploy benches run it: running `args`, on a database and Redis prefix of its own. */
export interface ApiUnderLoad {
  url: string;
  key: string;
  redisUrl: string;
  prefix: string;
  /** The API process's pid, and the name of its database (whose Postgres backends serve it). */
  pid: number | undefined;
  database: string;
}

/** Starts the API (`args`), runs `work` against it, then stops it and drops what it used. */
/**
 * How a previous build of the API (BENCH_API_BEFORE: its bundle) is started: with the node flags the
 * API runs with today (NODE_FLAGS), so two builds differ by their code only, and then
 * BENCH_API_BEFORE_NODE_ARGS' flags for it alone (they win), e.g. to measure a V8 flag against the
 * same bundle in one run.
 */
export function previousBuildArgs(bundle: string): string[] {
  return [
    ...NODE_FLAGS.api,
    ...(process.env.BENCH_API_BEFORE_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    '--enable-source-maps',
    bundle,
  ];
}

export async function withApiProcess<T>(
  args: string[],
  extraEnv: Record<string, string>,
  work: (api: ApiUnderLoad) => Promise<T>,
): Promise<T> {
  const database = await createTestDatabase('bench_deploy_rate');
  const redis = createRedisPrefix('bench-deploy-rate');
  const key = `gd_admin_${randomBytes(18).toString('hex')}`;
  const port = await freePort();
  // BENCH_NODE_ARGS: extra node flags for the API (e.g. --cpu-prof) when looking into a result.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const api = startProcess(process.execPath, [...nodeArgs, ...args], {
    cwd: repoRoot,
    name: 'api',
    env: {
      DATABASE_URL: viaPostgresSocket(database.url),
      REDIS_URL: redis.url,
      QUEUE_PREFIX: redis.prefix,
      GLASSDOME_ADMIN_KEY: key,
      API_PORT: String(port),
      API_RATE_LIMIT: '100000000',
      API_RATE_LIMIT_PER_ADDRESS: '100000000',
      QUOTA_MAX_VMS: '100000000',
      QUOTA_MAX_VCPUS: '100000000',
      QUOTA_MAX_MEMORY_MIB: '2000000000',
      TEMPLATE_VMIDS: 'debian-12=9002',
      // BENCH_LOG_LEVEL: the API's log level (default warn; info is what operators run by default).
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      ...extraEnv,
    },
  });
  try {
    await api.waitForOutput('api listening', 120_000);
    return await work({
      url: `http://127.0.0.1:${port}`,
      key,
      redisUrl: redis.url,
      prefix: redis.prefix,
      pid: api.child.pid,
      database: database.name,
    });
  } finally {
    await api.stop();
    await database.drop();
    await redis.cleanup();
  }
}

/** One API configuration: started, warmed up, measured, stopped. */
function measure(args: string[], extraEnv: Record<string, string>, script: string) {
  return withApiProcess(args, extraEnv, async ({ url, key }) => {
    await wrk(url, key, 2, script);
    const result = await wrk(url, key, SECONDS, script);
    return { ...result, floor: healthzRate(url) };
  });
}

export async function run(): Promise<string> {
  if (spawnSync('wrk', ['--version']).error) {
    return '## API accepted deploys/s (wrk)\n\nSkipped: wrk is not installed (`apt-get install wrk`).\n';
  }
  const script = deployScript();
  try {
    const rows: string[] = [];
    // BENCH_API_BEFORE: another build of the API (e.g. the previous commit's) measured in the same run.
    const configurations: [string, string[], Record<string, string>][] = [
      ...(process.env.BENCH_API_BEFORE
        ? [
            ['previous build', previousBuildArgs(process.env.BENCH_API_BEFORE), {}] as [
              string,
              string[],
              Record<string, string>,
            ],
          ]
        : []),
      ['one API process', appArgs('api'), {}],
    ];
    for (const [name, args, env] of configurations) {
      const result = await measure(args, env, script.path);
      const rate = result.accepted / result.seconds;
      const met = rate >= 1_000 && result.p99 < 50 ? 'met' : '**missed**';
      rows.push(
        `| ${name} | ${rate.toFixed(0)} | ${result.refused + result.errors} | ${result.p50.toFixed(1)} ms | ${result.p90.toFixed(1)} ms | ${result.p99.toFixed(1)} ms | ${met} | ${result.floor.toFixed(0)} |`,
      );
    }
    return [
      '## API accepted deploys/s (wrk)',
      '',
      `wrk 4.1, 2 threads, ${CONNECTIONS} connections, ${SECONDS} s after 2 s of warm-up, against the API process`,
      '(its bundle) on local Postgres and Redis, no workers. Every request deploys a new VM; an accepted one',
      'is committed (the row with its plan, the intent) and relayed to BullMQ. Target ≥ 1,000/s with p99 < 50 ms;',
      'previous figures: 2,925/s, p99 14.3 ms in the full run of 2026-12-07 20:02 (2 × AMD EPYC, `/healthz` 11,872/s);',
      '3,213/s, p99 14.6 ms in the full run of 2026-12-07 17:25 (2 × AMD EPYC, `/healthz` 12,272/s);',
      '2,257/s, p99 303.7 ms in the full run of 2026-12-07 14:32 (2 × AMD EPYC, `/healthz` 8,651/s);',
      '3,711/s, p99 11.9 ms in the full run of 2026-12-07 11:41 (2 × AMD EPYC, `/healthz` 11,082/s);',
      '4,255/s, p99 10.4 ms in the full run of 2026-12-07 08:27 (2 × AMD EPYC, `/healthz` 12,721/s);',
      '2,722/s, p99 15.7 ms in the full run of 2026-12-07 05:29 (2 × AMD EPYC, `/healthz` 10,112/s);',
      '1,423/s, p99 25.1 ms in the full run of 2026-12-07 02:35 (2 × AMD EPYC, `/healthz` 3,125/s);',
      '1,492/s, p99 30.9 ms in the full run of 2026-12-06 23:01 (2 × AMD EPYC, `/healthz` 3,606/s);',
      '1,627/s, p99 46.3 ms in the full run of 2026-12-06 19:46 (2 × AMD EPYC, `/healthz` 4,331/s);',
      '2,717/s, p99 13.9 ms in the full run of 2026-12-06 17:05 (2 × Intel Xeon, `/healthz` 6,934/s);',
      '1,687/s, p99 21.4 ms in the full run of 2026-12-06 13:25 (2 × Intel Xeon, `/healthz` 5,100/s);',
      '1,474/s, p99 29.4 ms in the full run of 2026-12-06 10:04 (2 × Intel Xeon, `/healthz` 4,208/s);',
      'issue 18 measured 519/s, p50 29 ms, p99 61 ms on a quiet machine. With `BENCH_API_BEFORE` (a bundle',
      'of the API as it was before, e.g. the commit before this work) both builds are measured in the same run, one',
      'after the other: on a busy shared machine compare those two rows, not figures across runs. The last column is',
      '`GET /healthz` on the same process, the HTTP floor (it shows how much CPU the machine had left). Load average',
      `when the run ended: ${loadavg()[0]!.toFixed(1)} (2 cores, shared).`,
      '',
      '| configuration | accepted/s | refused or failed | p50 | p90 | p99 | ≥ 1,000/s, p99 < 50 ms | /healthz req/s |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
      ...rows,
      '',
    ].join('\n');
  } finally {
    script.remove();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  process.stdout.write(`${await run()}\n`);
}
