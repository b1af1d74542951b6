/**
 * The lists at 100,000 rows per table: GET /vms, /labs, /alerts and a lab's events (JSON page)
 * against the API process as users run it (compiled bundle), each row a copy of one a real request
 * wrote (specs, steps). Latency of the first page, of a page 50,000 rows deep by cursor, of
 * the filtered and project-scoped lists, and — for comparison, measured in the same run — the
 * deprecated offset at the same depth. Target: p99 < 20 ms for every cursor-paged list.
 *
 *   pnpm exec tsx bench/lists.bench.ts
 */
import { randomBytes } from 'node:crypto';
import { Agent, get } from 'node:http';
import { loadavg } from 'node:os';
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import {
  ALERTS_LAST_SEEN,
  createDb,
  type Db,
  decodeCursor,
  LAB_EVENTS,
  LABS_NEWEST,
  listAlerts,
  listLabEventPage,
  listLabs,
  listStandaloneVms,
  planVmSteps,
  STANDALONE_VMS,
} from '../packages/db/src/index';
import { type Cursor, encodeCursor, type Keyset } from '../packages/db/src/paging';
import { appArgs, freePort, NODE_FLAGS, repoRoot, startProcess } from '../packages/stack/src/index';
import { createRedisPrefix, createTestDatabase } from '../packages/testkit/src/index';
import { knownCpuSeconds, postgresBackendCpuSeconds } from './lab-measure';

const ROWS = Number(process.env.BENCH_LIST_ROWS ?? 100_000);
const REQUESTS = Number(process.env.BENCH_LIST_REQUESTS ?? 300);
/**
 * BENCH_LIST_WARMUP=<n>: a warm-up pass of n requests per line (and as many runs of its queries) over
 * every line before the first is measured; 0 (the default) leaves each line its 20 requests of
 * warm-up only. A fresh API process does warm up — 6–7 ms of CPU per `/vms` page over its first 100
 * requests, 4–4.5 ms from about the 300th on —, but here the floor lines' 640 requests come first, and
 * a pass of 100 moved neither the `/vms` first page's API CPU (median 4.57 ms with and without) nor
 * its p99 (median 20.6 ms with, 18.3 ms without; 5 alternated pairs, load 1.1–4.9, 2026-12-06).
 */
const WARMUP_PASS = Number(process.env.BENCH_LIST_WARMUP ?? 0);
const DEEP = Math.floor(ROWS / 2);
const TARGET_P99_MS = 20;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

async function columnsOf(client: pg.Client, table: string): Promise<string[]> {
  const result = await client.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = 'public'
     AND is_generated = 'NEVER' ORDER BY ordinal_position`,
    [table],
  );
  return result.rows.map((row) => row.column_name).filter((column) => column !== 'id');
}

/** `count` copies of the row `id` of `table` (its generated columns Postgres computes), each with `overrides` (SQL over i = 1..count). */
async function cloneRows(
  client: pg.Client,
  table: string,
  id: string,
  count: number,
  overrides: Record<string, string>,
): Promise<void> {
  const columns = await columnsOf(client, table);
  const values = columns.map((column) => overrides[column] ?? `t.${column}`);
  await client.query(
    `INSERT INTO ${table} (${columns.join(', ')})
     SELECT ${values.join(', ')} FROM generate_series(1, ${count}) AS i, (SELECT * FROM ${table} WHERE id = $1) AS t`,
    [id],
  );
}

/** What the backends did between two readings (one that ended meanwhile, e.g. an idle pool connection closed, counts nothing). */
function postgresCpuMsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += (seconds - (before.get(pid) ?? 0)) * 1000;
  return total;
}

/**
 * p50 and p99 of `REQUESTS` sequential calls of `once` after 20 of warm-up, what the last returned,
 * and the CPU the process `pid` and the Postgres backends of `database` spent per call meanwhile
 * (when given).
 */
async function timeCalls<T>(once: () => Promise<T>, count: (last: T) => number, pid?: number, database?: string) {
  for (let i = 0; i < 20; i += 1) await once();
  const times: number[] = [];
  let last: T | undefined;
  const cpuBefore = pid === undefined ? undefined : knownCpuSeconds(pid);
  const pgBefore = database === undefined ? undefined : postgresBackendCpuSeconds(database);
  for (let i = 0; i < REQUESTS; i += 1) {
    const started = performance.now();
    last = await once();
    times.push(performance.now() - started);
  }
  const cpuAfter = cpuBefore === undefined ? undefined : knownCpuSeconds(pid!);
  const pgAfter = pgBefore === undefined ? undefined : postgresBackendCpuSeconds(database!);
  times.sort((a, b) => a - b);
  const cpuPerCall =
    cpuBefore === undefined || cpuAfter === undefined ? undefined : ((cpuAfter - cpuBefore) * 1000) / REQUESTS;
  const pgPerCall =
    pgBefore === undefined || pgAfter === undefined || pgAfter.size === 0
      ? undefined
      : postgresCpuMsBetween(pgBefore, pgAfter) / REQUESTS;
  return { p50: percentile(times, 50), p99: percentile(times, 99), items: count(last!), cpuPerCall, pgPerCall };
}

/** The API's collections during a line (BENCH_LIST_GC): how many of each kind, their total and longest pause. */
function gcSummary(pauses: readonly { kind: string; ms: number }[]): string {
  const kinds = [...new Set(pauses.map((pause) => pause.kind))];
  if (kinds.length === 0) return 'no collection';
  return kinds
    .map((kind) => {
      const times = pauses.filter((pause) => pause.kind === kind).map((pause) => pause.ms);
      const total = times.reduce((sum, ms) => sum + ms, 0);
      return `${times.length} ${kind} (${total.toFixed(1)} ms in all, longest ${Math.max(...times).toFixed(1)} ms)`;
    })
    .join(', ');
}

/** One keep-alive connection for the bench's requests, as a client paging through a list holds. */
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/**
 * A GET of `url`, timed to its last byte; the body stays the chunks that arrived. Read through fetch
 * and parsed at every call (a `/vms` page is 77 KB), the answers made garbage in this process whose
 * collections landed in the requests being timed: 5-6 scavenges of up to 11 ms and at times a few
 * full collections per `/vms` line, against 1-2 scavenges now (BENCH_LIST_GC, one API bundle on a kept
 * database, alternated: in 2 pairs at load 1.4-1.9 the four `/vms` lines went p50 3.8-5.9 -> 2.7-4.0
 * ms, p99 9.3-14.2 -> 8.0-11.1 ms; a third pair at load 4.6-5.5 was over 20 ms either way). So the
 * items are counted once, from the last answer (`itemsOf`).
 */
function httpCall(url: string, key: string | undefined): () => Promise<Buffer[]> {
  const headers = { ...(key ? { authorization: `Bearer ${key}` } : {}), accept: 'application/json' };
  return () =>
    new Promise((resolve, reject) => {
      get(url, { agent, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          if (response.statusCode === 200) resolve(chunks);
          else reject(new Error(`${url}: ${response.statusCode} ${Buffer.concat(chunks).toString('utf8', 0, 300)}`));
        });
      }).on('error', reject);
    });
}

/** How many items an answer's body holds. */
const itemsOf = (chunks: Buffer[]): number =>
  ((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { items?: unknown[] }).items ?? []).length;

type Call = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

/** Fills the empty database through the API and copies: ROWS rows per table. Returns the lab whose events are listed. */
async function fill(client: pg.Client, db: Db, call: Call): Promise<string> {
  // One real row of each kind (no workers run: the VM and the lab stay queued), then copies.
  const vm = await call('POST', '/vms', { name: 'bench-vm', os: 'ubuntu-22.04' });
  // Its step rows as the installer writes them from the plan when it takes the job: in a table this
  // size nearly every VM has been taken, so a page carries step rows, not plans.
  await planVmSteps(db, vm.id as string);
  const lab = await call('POST', '/labs', { template: 'web-pentest-101' });
  await client.query(`INSERT INTO alerts (dedup_key, kind, severity, subject, message, state, data)
    VALUES ('bench', 'vm.drift', 'warning', 'vm/100', 'VM stopped behind our back', 'open', '{"vmid": 100}')`);
  const alertId = (await client.query<{ id: string }>(`SELECT id FROM alerts WHERE dedup_key = 'bench'`)).rows[0]!.id;
  const labId = lab.id as string;
  await client.query(
    `INSERT INTO events (lab_id, kind, message, data) VALUES ($1, 'lab.progress', 'clone finished', '{"vm": "web"}')`,
    [labId],
  );

  const spread = `now() - (i * interval '37 seconds')`;
  const project = `CASE WHEN i % 5 = 0 THEN 'blue' ELSE 'default' END`;
  const status = (states: string[]) => `(ARRAY[${states.map((s) => `'${s}'`).join(',')}])[1 + i % ${states.length}]`;
  await client.query(`INSERT INTO projects (name) VALUES ('blue') ON CONFLICT DO NOTHING`);
  await cloneRows(client, 'vms', vm.id as string, ROWS - 1, {
    name: `'vm-' || i`,
    created_at: spread,
    updated_at: spread,
    project,
    status: status([
      'ready',
      'ready',
      'ready',
      'destroyed',
      'destroyed',
      'failed',
      'deploying',
      'ready',
      'ready',
      'ready',
    ]),
  });
  // Each VM's steps, as the real one has them.
  const stepColumns = await columnsOf(client, 'steps');
  await client.query(
    `INSERT INTO steps (${stepColumns.join(', ')})
     SELECT ${stepColumns.map((column) => (column === 'vm_id' ? 'v.id' : `s.${column}`)).join(', ')}
     FROM vms v, steps s WHERE s.vm_id = $1 AND v.id <> $1 AND v.lab_id IS NULL`,
    [vm.id],
  );
  await cloneRows(client, 'labs', labId, ROWS - 1, {
    name: `'lab-' || i`,
    created_at: spread,
    updated_at: spread,
    project,
    status: status(['ready', 'ready', 'destroyed', 'failed', 'ready', 'degraded', 'ready', 'ready']),
  });
  await cloneRows(client, 'alerts', alertId, ROWS - 1, {
    dedup_key: `'bench-' || i`,
    last_seen_at: spread,
    first_seen_at: spread,
    project,
    state: status(['open', 'resolved', 'resolved', 'acknowledged']),
  });
  await client.query(
    `INSERT INTO events (lab_id, kind, message, data, at)
    SELECT CASE WHEN i % 2 = 0 THEN $1::uuid ELSE NULL END, 'lab.progress', 'clone finished', '{"vm": "web"}', now()
    FROM generate_series(1, ${ROWS - 1}) AS i`,
    [labId],
  );
  // A table in use has been vacuumed by autovacuum: its visibility map is set (index-only scans stay
  // off the heap) and its statistics are fresh. Right after a bulk fill it has not, and autovacuum
  // and the checkpointer would run during the measurement; do both now so they do not.
  await client.query('VACUUM (ANALYZE)');
  await client.query('CHECKPOINT');
  return labId;
}

/** The lab a kept database's events belong to (the one lab `fill` wrote events for). */
async function labOfEvents(client: pg.Client): Promise<string> {
  return (await client.query<{ lab_id: string }>('SELECT lab_id FROM events WHERE lab_id IS NOT NULL LIMIT 1')).rows[0]!
    .lab_id;
}

export async function run(): Promise<string> {
  // BENCH_LIST_DB=<url>: measure on a database an earlier run filled and kept (BENCH_LIST_KEEP=1) —
  // no fill, and it stays. Migrations added since apply when the API starts.
  const reused = process.env.BENCH_LIST_DB;
  const database = reused ? { url: reused, drop: async () => undefined } : await createTestDatabase('bench_lists');
  const redis = createRedisPrefix('bench-lists');
  const adminKey = `gd_admin_${randomBytes(18).toString('hex')}`;
  const port = await freePort();
  // BENCH_NODE_ARGS: extra node flags for the API (e.g. --cpu-prof) when looking into a result.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  // BENCH_LIST_GC=1: the API runs with --trace-gc, and each line's collections in the API during its
  // requests (warm-up included) are summed on stderr, and this process's own beside them (the table
  // stays as it is). A scavenge lands in one request, so their count and length per line say how much
  // of a p99 is GC, and whose.
  const gcPauses: { kind: string; ms: number }[] | undefined = process.env.BENCH_LIST_GC ? [] : undefined;
  if (gcPauses) nodeArgs.push('--trace-gc');
  const ownPauses: { kind: string; ms: number }[] = [];
  const ownGc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      ownPauses.push({
        kind: kind === constants.NODE_PERFORMANCE_GC_MINOR ? 'Scavenge' : 'Mark-Compact',
        ms: entry.duration,
      });
    }
  });
  if (gcPauses) ownGc.observe({ entryTypes: ['gc'] });
  const onLine = (line: string) => {
    const pause = /: (Scavenge|Mark-Compact|Minor Mark-Compact)\b[^,]*, ([\d.]+) \/ [\d.]+ ms/.exec(line);
    if (pause && gcPauses) gcPauses.push({ kind: pause[1]!, ms: Number(pause[2]) });
  };
  // BENCH_LIST_API=<bundle>: that build of the API instead of the tree's (e.g. the commit before a
  // change, built and copied aside at the same depth), to alternate before/after runs on one kept database.
  const build = process.env.BENCH_LIST_API
    ? ['--enable-source-maps', ...NODE_FLAGS.api, process.env.BENCH_LIST_API]
    : appArgs('api');
  const startApi = () =>
    startProcess(process.execPath, [...nodeArgs, ...build], {
      cwd: repoRoot,
      name: 'api',
      ...(gcPauses ? { onLine } : {}),
      env: {
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        QUEUE_PREFIX: redis.prefix,
        GLASSDOME_ADMIN_KEY: adminKey,
        API_PORT: String(port),
        API_RATE_LIMIT: '100000000',
        API_RATE_LIMIT_PER_ADDRESS: '100000000',
        LOG_LEVEL: 'warn',
      },
    });
  let api = startApi();
  const base = `http://127.0.0.1:${port}/api/v1`;
  const client = new pg.Client({ connectionString: database.url });
  const db = createDb(database.url);
  try {
    await api.waitForOutput('api listening', 120_000);
    await client.connect();
    const call = async (method: string, path: string, body?: unknown, key = adminKey) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const viewer = (await call('POST', '/keys', { name: 'bench-blue', role: 'viewer', project: 'blue' })).key as string;
    const filled = performance.now();
    const labId = reused ? await labOfEvents(client) : await fill(client, db, call);
    const fillSeconds = (performance.now() - filled) / 1000;
    // The API measured is one started on the filled tables, as one serving a grown database is. The
    // process whose requests the fill copied sat idle through the fill (80-130 s), its heap shrank,
    // and the first lines measured paid for growing it back: full collections in their requests
    // (4, then 2, then none over the /vms lines) and the /vms first page at p99 20.1 ms, against 14.6
    // ms for a process started after the fill (a helper's runs with the GC log, 2026-12-06). Two
    // alternated pairs of the whole bench, one bundle (load 1.3-2.7): first page p99 23.4 and 27.9 ms
    // with the idle process, 17.6 and 21.5 ms restarted; its API CPU 3.97/4.37 -> 3.60/4.03 ms.
    if (!reused) {
      await api.stop();
      api = startApi();
      await api.waitForOutput('api listening', 120_000);
    }
    const counts = (
      await client.query<{ t: string; n: string }>(
        `SELECT 'vms' AS t, count(*)::text AS n FROM vms UNION ALL SELECT 'labs', count(*)::text FROM labs
         UNION ALL SELECT 'alerts', count(*)::text FROM alerts UNION ALL SELECT 'events', count(*)::text FROM events
         UNION ALL SELECT 'steps', count(*)::text FROM steps`,
      )
    ).rows;

    /** The cursor of the row `DEEP` rows down the list, as the API would have given it. */
    const deepCursor = async (list: string, table: string, column: string, where = 'true') => {
      const row = (
        await client.query<{ at: string; id: string }>(
          `SELECT to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, id::text AS id
           FROM ${table} WHERE ${where} ORDER BY ${column} DESC, id DESC OFFSET ${DEEP} LIMIT 1`,
        )
      ).rows[0]!;
      return encodeCursor({ list, at: row.at, id: row.id });
    };
    const deepEvent = (
      await client.query<{ id: string }>(
        `SELECT id::text AS id FROM events WHERE lab_id = $1 AND NOT private ORDER BY id OFFSET ${Math.floor(DEEP / 2)} LIMIT 1`,
        [labId],
      )
    ).rows[0]!.id;
    const eventsCursor = encodeCursor({ list: 'lab-events', at: null, id: deepEvent });

    const decoded = (text: string, keyset: Keyset): Cursor => decodeCursor(text, keyset) as Cursor;
    const blue = { kind: 'project', project: 'blue' } as const;
    const vmsDeep = await deepCursor('vms', 'vms', 'created_at', 'lab_id IS NULL');
    const labsDeep = await deepCursor('labs', 'labs', 'created_at');
    const alertsDeep = await deepCursor('alerts', 'alerts', 'last_seen_at');
    const deep = DEEP.toLocaleString('en');
    /** The /vms route's query: the page, its VMs' steps with it. */
    const vmPage = async (filter: Parameters<typeof listStandaloneVms>[1], scope?: typeof blue) =>
      (await listStandaloneVms(db, filter, scope)).items.length;
    type Case = { name: string; path: string; key: string; paged: boolean; query?: () => Promise<number> };
    const cases: Case[] = [
      { name: 'GET /healthz (floor: no key, no database)', path: '/healthz', key: '', paged: false },
      { name: 'GET /api/v1/me (floor: key and rate limit)', path: '/api/v1/me', key: adminKey, paged: false },
      {
        name: 'GET /vms (first page)',
        path: '/api/v1/vms?limit=50',
        key: adminKey,
        paged: true,
        query: () => vmPage({ limit: 50 }),
      },
      {
        name: `GET /vms (cursor, ${deep} deep)`,
        path: `/api/v1/vms?limit=50&cursor=${vmsDeep}`,
        key: adminKey,
        paged: true,
        query: () => vmPage({ limit: 50, cursor: decoded(vmsDeep, STANDALONE_VMS) }),
      },
      {
        name: 'GET /vms?status=failed',
        path: '/api/v1/vms?status=failed&limit=50',
        key: adminKey,
        paged: true,
        query: () => vmPage({ status: 'failed', limit: 50 }),
      },
      {
        name: 'GET /vms (project key)',
        path: '/api/v1/vms?limit=50',
        key: viewer,
        paged: true,
        query: () => vmPage({ limit: 50 }, blue),
      },
      {
        name: `GET /vms (offset ${deep}, deprecated)`,
        path: `/api/v1/vms?limit=50&offset=${DEEP}`,
        key: adminKey,
        paged: false,
        query: () => vmPage({ limit: 50, offset: DEEP }),
      },
      {
        name: 'GET /labs (first page)',
        path: '/api/v1/labs?limit=50',
        key: adminKey,
        paged: true,
        query: async () => (await listLabs(db, { limit: 50 })).items.length,
      },
      {
        name: `GET /labs (cursor, ${deep} deep)`,
        path: `/api/v1/labs?limit=50&cursor=${labsDeep}`,
        key: adminKey,
        paged: true,
        query: async () => (await listLabs(db, { limit: 50, cursor: decoded(labsDeep, LABS_NEWEST) })).items.length,
      },
      {
        name: 'GET /labs?status=degraded (project key)',
        path: '/api/v1/labs?status=degraded&limit=50',
        key: viewer,
        paged: true,
        query: async () => (await listLabs(db, { status: 'degraded', limit: 50 }, blue)).items.length,
      },
      {
        name: `GET /labs (offset ${deep}, deprecated)`,
        path: `/api/v1/labs?limit=50&offset=${DEEP}`,
        key: adminKey,
        paged: false,
        query: async () => (await listLabs(db, { limit: 50, offset: DEEP })).items.length,
      },
      {
        name: 'GET /alerts?state=open',
        path: '/api/v1/alerts?state=open&limit=50',
        key: adminKey,
        paged: true,
        query: async () => (await listAlerts(db, { state: 'open', limit: 50 })).items.length,
      },
      {
        name: `GET /alerts (cursor, ${deep} deep)`,
        path: `/api/v1/alerts?limit=50&cursor=${alertsDeep}`,
        key: adminKey,
        paged: true,
        query: async () =>
          (await listAlerts(db, { limit: 50, cursor: decoded(alertsDeep, ALERTS_LAST_SEEN) })).items.length,
      },
      {
        name: 'GET /labs/:id/events (JSON, first page)',
        path: `/api/v1/labs/${labId}/events?limit=50`,
        key: adminKey,
        paged: true,
        query: async () => (await listLabEventPage(db, { labId, includePrivate: true, limit: 50 })).items.length,
      },
      {
        name: `GET /labs/:id/events (cursor, ${Math.floor(DEEP / 2).toLocaleString('en')} deep)`,
        path: `/api/v1/labs/${labId}/events?limit=50&cursor=${eventsCursor}`,
        key: adminKey,
        paged: true,
        query: async () =>
          (
            await listLabEventPage(db, {
              labId,
              includePrivate: true,
              limit: 50,
              cursor: decoded(eventsCursor, LAB_EVENTS),
            })
          ).items.length,
      },
    ];
    const rows: string[] = [];
    // BENCH_LIST_ONLY=<text>: only the lines whose name holds it (e.g. 'GET /vms' to A/B that route);
    // BENCH_LIST_SKIP=<text>: not those (e.g. 'deprecated': the offset lines take most of a run).
    const only = process.env.BENCH_LIST_ONLY;
    const skip = process.env.BENCH_LIST_SKIP;
    const measures = (name: string) => (!only || name.includes(only)) && !(skip && name.includes(skip));
    const databaseName = new URL(database.url).pathname.slice(1);
    // BENCH_LIST_AGAIN=<text>: the lines whose name holds it are measured a second time at the end,
    // in the same API process (to tell a line's own cost from the process still warming up).
    const again = process.env.BENCH_LIST_AGAIN;
    const measured = [
      ...cases,
      ...(again ? cases.filter((c) => c.name.includes(again)).map((c) => ({ ...c, name: `${c.name} (again)` })) : []),
    ];
    // The warm-up pass (BENCH_LIST_WARMUP): every line's request and queries, in the order measured.
    for (const entry of cases) {
      if (!measures(entry.name)) continue;
      const once = httpCall(`http://127.0.0.1:${port}${entry.path}`, entry.key || undefined);
      for (let i = 0; i < WARMUP_PASS; i += 1) await once();
      for (let i = 0; entry.query && i < WARMUP_PASS; i += 1) await entry.query();
    }
    for (const entry of measured) {
      if (!measures(entry.name)) continue;
      if (gcPauses) gcPauses.length = 0;
      ownPauses.length = 0;
      const http = await timeCalls(
        httpCall(`http://127.0.0.1:${port}${entry.path}`, entry.key || undefined),
        itemsOf,
        api.child.pid,
        databaseName,
      );
      if (gcPauses) {
        process.stderr.write(`${entry.name}: ${gcSummary(gcPauses)}; bench process: ${gcSummary(ownPauses)}\n`);
      }
      const query = entry.query ? await timeCalls(entry.query, (items) => items) : undefined;
      const verdict = entry.paged ? (http.p99 < TARGET_P99_MS ? 'met' : '**missed**') : 'no target';
      const cpuCell = http.cpuPerCall === undefined ? '—' : `${http.cpuPerCall.toFixed(2)} ms`;
      const pgCell = http.pgPerCall === undefined ? '—' : `${http.pgPerCall.toFixed(2)} ms`;
      const queryCells = query ? `${query.p50.toFixed(1)} ms | ${query.p99.toFixed(1)} ms` : '— | —';
      rows.push(
        `| ${entry.name} | ${http.items} | ${http.p50.toFixed(1)} ms | ${http.p99.toFixed(1)} ms | ${verdict} | ${cpuCell} | ${pgCell} | ${queryCells} |`,
      );
    }
    const load = loadavg()[0]!.toFixed(1);
    return [
      '## Lists at 100,000 rows (keyset pagination)',
      '',
      `Tables filled with copies of rows real requests wrote (${counts.map((c) => `${c.t} ${Number(c.n).toLocaleString('en')}`).join(', ')};`,
      `${reused ? 'filled by an earlier run' : `${fillSeconds.toFixed(0)} s to fill`}), API as a separate process running its bundle (started on the filled tables), ${REQUESTS} sequential`,
      `requests per line on one keep-alive connection (timed to the last byte; only a line's last answer is parsed, so the bench's own garbage collections stay out of the timed requests), 50 rows a page, ${
        WARMUP_PASS > 0
          ? `after a warm-up pass of ${WARMUP_PASS} requests (and as many runs of its queries) on every line before the first is measured, and 20 more right before each line`
          : 'after 20 of warm-up'
      }. Target: p99 < 20 ms for every cursor-paged list`,
      '(previous: p99 11.4–20.2 ms on `/vms` pages (`?status=failed` over) and 6.4–8.3 ms on the others in the full run of 2026-12-07 20:02 on a 2 × AMD EPYC machine, the first with this client;',
      'before, with a client that parsed every answer (fetch + JSON.parse) and whose own collections fell in the timed `/vms` requests:',
      'p99 14.5–22.3 ms on `/vms` pages (the first page over) and 7.5–13.8 ms on the others in the full run of 2026-12-07 17:25 on a 2 × AMD EPYC machine;',
      '18.9–38.1 ms on `/vms` pages (the first page, the cursor 50,000 deep and the project key over) and 6.7–15.9 ms on the others at 14:32 on the same kind;',
      '12.7–21.9 ms and 8.2–18.2 ms at 11:41 on the same kind (the `/vms` cursor 50,000 deep over);',
      '8.6–13.1 ms and 6.0–13.8 ms at 08:27 on the same kind;',
      '14.6–24.8 ms on `/vms` pages (the cursor 50,000 deep and the project key over) and 10.0–16.8 ms on the others at 05:29 on the same kind;',
      '12.2–16.9 ms and 11.4–19.5 ms at 2026-12-06 23:01 on the same kind;',
      '11.6–21.7 ms (the first `/vms` page over) and 9.3–16.1 ms at 19:46 on the same kind; 8.2–16.4 ms and 6.5–16.3 ms at 17:05 on a 2 × Intel Xeon; 10.3–20.0 ms and 11.2–22.6 ms at 13:25 (labs 50,000 deep 21.6 ms, events first page 22.6 ms) on a 2 × Intel Xeon;',
      '18.9–30.3 ms and 13.1–30.1 ms at 10:04 on a 2 × Intel Xeon;',
      'issue 18 measured 299 req/s and p99 139 ms for `GET /vms?limit=1` at 12,000 rows,',
      'with no index on `created_at` and OFFSET paging). The offset lines show what the deprecated parameter still costs.',
      '',
      `Load average on the machine when the run ended: ${load} (2 cores, shared). API CPU: what the API process`,
      'spent per request (user + system, from /proc), which other load on the machine moves far less than the',
      'p99 does; Postgres CPU: what the Postgres backends serving the API spent per request meanwhile. The',
      "last two columns time the route's repository queries alone, from the bench process (the database's",
      'share of each answer).',
      '',
      '| request | rows | HTTP p50 | HTTP p99 | p99 < 20 ms | API CPU | Postgres CPU | queries p50 | queries p99 |',
      '| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
    ].join('\n');
  } finally {
    ownGc.disconnect();
    agent.destroy();
    await db.destroy().catch(() => undefined);
    await client.end().catch(() => undefined);
    await api.stop();
    // BENCH_LIST_KEEP=1 keeps the filled database (its URL on stderr) to look into a plan.
    if (process.env.BENCH_LIST_KEEP || reused) process.stderr.write(`bench database kept: ${database.url}\n`);
    else await database.drop();
    await redis.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  process.stdout.write(`${await run()}\n`);
}
