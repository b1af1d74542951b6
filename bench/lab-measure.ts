/**
 * What the lab benches measure after a run: processes' CPU and memory from /proc, and each task of a
 * lab's graph's own duration from the steps Postgres recorded.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@glassdome/testkit';
import pg from 'pg';
import { type Db, listSteps } from '../packages/db/src/index';
import type { LabGraph, LabTask } from '../packages/lab/src/index';
import { labJobId, type RedisConnection, VM_DEPLOY_STEPS } from '../packages/queue/src/index';

/** The fields of a /proc `stat` file after the command name (utime is [11], stime [12]). */
function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  const fields = statFields(`/proc/${pid}/stat`);
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds a process has spent in the kernel so far (its system time). */
export function systemCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  return Number(statFields(`/proc/${pid}/stat`)[12]) / 100;
}

/** CPU seconds (user + system) of a process's main thread so far: its JavaScript, not V8's or libuv's helper threads. */
export function mainThreadCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  const fields = statFields(`/proc/${pid}/task/${pid}/stat`);
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds (user + system) of `pid` so far, or undefined where /proc cannot say (no /proc, or the
 * process is gone).
 */
export function knownCpuSeconds(pid: number): number | undefined {
  try {
    return cpuSeconds(pid);
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by each process alive now whose /proc entry `matches`, by pid. */
function cpuSecondsOfProcesses(matches: (pid: string) => boolean): Map<number, number> {
  const used = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (matches(entry)) used.set(Number(entry), cpuSeconds(Number(entry)));
    } catch {
      // Gone meanwhile.
    }
  }
  return used;
}

/** CPU seconds used so far by each Postgres backend connected to `database` (its command line names it). */
export function postgresBackendCpuSeconds(database: string): Map<number, number> {
  return cpuSecondsOfProcesses((pid) => {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return command.startsWith('postgres:') && command.includes(` ${database} `);
  });
}

/** CPU seconds every process on the machine has used so far (all cores together), from /proc/stat. */
export function machineCpuSeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  const busy = fields.slice(0, 8).reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0);
  return busy / 100;
}

/** CPU seconds used so far by the processes named `name` (e.g. every Postgres backend), alive now. */
export function cpuSecondsOfProcessesNamed(name: string): Map<number, number> {
  return cpuSecondsOfProcesses((pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === name;
  });
}

/** Resident memory of a process now, in MiB (0 once it is gone). */
export function rssMiB(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return line ? Number(line[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Steps of a VM's provision task: everything before post-configure (the firewall too). */
export const PROVISION_STEPS = new Set<string>(VM_DEPLOY_STEPS.slice(0, VM_DEPLOY_STEPS.indexOf('post-configure')));

export interface StepTimes {
  copy: number | null;
  vm: string;
  node: string;
  step: string;
  startedAt: number;
  finishedAt: number;
}

/** Every finished step of the lab's VMs, with the VM's copy and node. */
export async function vmStepTimes(db: Db, labId: string): Promise<StepTimes[]> {
  const rows = await db
    .selectFrom('steps')
    .innerJoin('vms', 'vms.id', 'steps.vm_id')
    .select(['vms.copy', 'vms.name', 'vms.node', 'steps.name as step', 'steps.started_at', 'steps.finished_at'])
    .where('vms.lab_id', '=', labId)
    .where('steps.started_at', 'is not', null)
    .where('steps.finished_at', 'is not', null)
    .execute();
  return rows.map((r) => ({
    copy: r.copy,
    vm: r.name,
    node: r.node,
    step: r.step,
    startedAt: r.started_at!.getTime(),
    finishedAt: r.finished_at!.getTime(),
  }));
}

/**
 * Each task's measured duration, from its first step's start to its last step's end (a network
 * task: its own lab step). For the critical path of the graph as it ran.
 */
export async function taskDurations(db: Db, labId: string, graph: LabGraph): Promise<(task: LabTask) => number> {
  const spans = await taskSpans(db, labId, graph);
  return (task) => {
    const span = spans.get(task.id);
    return span ? span.end - span.start : 0;
  };
}

/** The times BullMQ keeps on a job, and what it returned. */
interface JobTimes {
  timestamp: number;
  processedOn?: number | undefined;
  finishedOn?: number | undefined;
  returnvalue?: unknown;
  /** The name of the worker that took it (BullMQ's `processedBy`: `<host>:<pid>` for ours). */
  processedBy?: string | undefined;
  /** How many times a worker took it (BullMQ counts stalled and failed attempts too). */
  attemptsStarted?: number | undefined;
}

export interface TaskTimes {
  /** When the task became ready (its job was added), ms since the epoch. */
  readyAt: number;
  /**
   * When a worker took it: BullMQ's `processedOn`, the start of its last attempt, so a task taken more
   * than once (`attempts` > 1) counts its earlier attempts as waiting.
   */
  pickedAt: number;
  /** Times a worker took it, when more than once. */
  attempts?: number;
  /** When it ended. */
  endedAt: number;
  /** The pid of the process whose worker took it (a task run inline: the job's), when its worker is named. */
  pid?: number;
}

/**
 * When each task of the lab's graph became ready, was taken by a worker and ended, from its job. A
 * task run in the job of the task before it (a VM's configure after its provision: the job's
 * `inline` outcome says from when) was ready and taken then, and that job's own task ended then.
 */
export async function taskTimes(
  queues: Record<'lab' | 'network', { getJob(id: string): Promise<JobTimes | undefined> }>,
  labId: string,
  graph: LabGraph,
): Promise<Map<string, TaskTimes>> {
  const times = new Map<string, TaskTimes>();
  await Promise.all(
    graph.tasks.map(async (task) => {
      const job = await queues[task.kind === 'network' ? 'network' : 'lab'].getJob(labJobId(labId, task.id));
      if (!job?.processedOn || !job.finishedOn) return;
      const inline = (job.returnvalue as { inline?: { taskId?: string; at: number } } | null | undefined)?.inline;
      const pid = Number(job.processedBy?.split(':').at(-1));
      const by = Number.isInteger(pid) && pid > 0 ? { pid } : {};
      if (inline?.taskId && !times.has(inline.taskId)) {
        times.set(inline.taskId, { readyAt: inline.at, pickedAt: inline.at, endedAt: job.finishedOn, ...by });
      }
      times.set(task.id, {
        readyAt: job.timestamp,
        pickedAt: job.processedOn,
        endedAt: inline?.at ?? job.finishedOn,
        ...by,
        ...((job.attemptsStarted ?? 1) > 1 ? { attempts: job.attemptsStarted } : {}),
      });
    }),
  );
  return times;
}

/** The machine's load averages now (1, 5, 15 minutes), as `uptime` prints them. */
export function loadNow(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(', ');
}

/**
 * Deploys a lab through the API as the stack's admin and waits for it to settle; the makespan runs
 * from the request to the lab's last status change.
 */
export async function deployLabAndWait(
  stack: { apiUrl: string; adminKey: string },
  db: Db,
  spec: unknown,
  timeoutMs: number,
): Promise<{ id: string; status: string; error: string | null; startedAt: number; makespanMs: number }> {
  const started = Date.now();
  const response = await fetch(`${stack.apiUrl}/api/v1/labs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${stack.adminKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(spec),
  });
  if (response.status !== 202) throw new Error(`lab refused: ${response.status} ${await response.text()}`);
  const { id } = (await response.json()) as { id: string };
  const lab = await waitFor(
    `lab ${id} to settle`,
    async () => {
      const row = await db
        .selectFrom('labs')
        .select(['status', 'updated_at', 'error'])
        .where('id', '=', id)
        .executeTakeFirst();
      return row && ['ready', 'failed', 'degraded'].includes(row.status) ? row : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
  return {
    id,
    status: lab.status,
    error: lab.error,
    startedAt: started,
    makespanMs: lab.updated_at.getTime() - started,
  };
}

/** Each task's first step start and last step end (ms since the epoch), as `taskDurations` spans them. */
export async function taskSpans(
  db: Db,
  labId: string,
  graph: LabGraph,
): Promise<Map<string, { start: number; end: number }>> {
  const steps = await vmStepTimes(db, labId);
  const labSteps = await listSteps(db, { labId });
  const spans = new Map<string, { start: number; end: number }>();
  for (const task of graph.tasks) {
    const own =
      task.kind === 'network' || task.kind === 'isolation'
        ? labSteps
            .filter((s) => s.name === task.id && s.started_at && s.finished_at)
            .map((s) => ({ startedAt: s.started_at!.getTime(), finishedAt: s.finished_at!.getTime() }))
        : steps.filter(
            (s) =>
              s.vm === task.vmName &&
              (s.copy ?? 0) === task.copy &&
              PROVISION_STEPS.has(s.step) === (task.kind === 'vm-provision'),
          );
    if (own.length === 0) continue;
    spans.set(task.id, {
      start: Math.min(...own.map((s) => s.startedAt)),
      end: Math.max(...own.map((s) => s.finishedAt)),
    });
  }
  return spans;
}

/** One event of a BullMQ queue's event stream that names a job, by Redis's clock (ms since the epoch). */
export interface JobEvent {
  at: number;
  event: string;
  fields: Record<string, string>;
}

/**
 * Follows the BullMQ event streams of `queues` (under `prefix`, read from their start) on a
 * connection of its own, keeping every event that names a job, by job id: what each job went
 * through (taken, failed, delayed, found stalled, put back) in Redis's words and times. Read as the
 * run goes, since BullMQ trims its streams to about 10,000 events. `stop` ends the following and
 * returns what it kept.
 */
export function followJobEvents(
  connection: RedisConnection,
  prefix: string,
  queues: readonly string[],
): { stop(): Promise<Map<string, JobEvent[]>> } {
  const keys = queues.map((queue) => `${prefix}:${queue}:events`);
  const last = keys.map(() => '0');
  const events = new Map<string, JobEvent[]>();
  let following = true;
  const loop = (async () => {
    while (following) {
      // A read that fails ends the following: what was kept so far still explains the run up to then.
      const read = (await connection.xread('COUNT', 5000, 'BLOCK', 100, 'STREAMS', ...keys, ...last).catch(() => {
        following = false;
        return null;
      })) as [string, [string, string[]][]][] | null;
      for (const [key, entries] of read ?? []) {
        last[keys.indexOf(key)] = entries.at(-1)![0];
        for (const [id, list] of entries) {
          const fields: Record<string, string> = {};
          for (let i = 0; i + 1 < list.length; i += 2) fields[list[i]!] = list[i + 1]!;
          const { event, jobId, ...rest } = fields;
          if (!event || !jobId) continue;
          const own = events.get(jobId) ?? [];
          own.push({ at: Number(id.split('-')[0]), event, fields: rest });
          events.set(jobId, own);
        }
      }
    }
  })();
  return {
    async stop() {
      following = false;
      await loop;
      return events;
    },
  };
}

/**
 * Writes what each process printed (its last few MB, as RunningProcess keeps it) to `dir`, one file
 * per process (`<name>.log`, spaces as dashes), and returns the directory.
 */
export function keepProcessLogs(dir: string, processes: { name: string; output(): string }[]): string {
  mkdirSync(dir, { recursive: true });
  for (const p of processes) writeFileSync(join(dir, `${p.name.replaceAll(' ', '-')}.log`), p.output());
  return dir;
}

/**
 * The machine's TCP trouble counters so far (every process's, from /proc/net/netstat and
 * /proc/net/snmp): a full listen queue (overflows, drops), retransmission timeouts and retransmitted
 * SYNs and segments, connects that failed. A run's change in them tells a connection that hung in the
 * kernel (a SYN dropped costs 1 s, 3 s, 7 s...) from one the server never answered.
 */
export function tcpTroubleCounters(): Map<string, number> {
  const wanted = new Set([
    'ListenOverflows',
    'ListenDrops',
    'TCPTimeouts',
    'TCPSynRetrans',
    'TCPAbortOnTimeout',
    'RetransSegs',
    'AttemptFails',
    'EstabResets',
  ]);
  const counters = new Map<string, number>();
  for (const file of ['/proc/net/netstat', '/proc/net/snmp']) {
    let lines: string[];
    try {
      lines = readFileSync(file, 'utf8').split('\n');
    } catch {
      continue;
    }
    // Pairs of lines: `Prefix: name name...` then `Prefix: value value...`.
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i]!.split(/\s+/).slice(1);
      const values = lines[i + 1]!.split(/\s+/).slice(1);
      for (const [j, name] of names.entries()) if (wanted.has(name)) counters.set(name, Number(values[j]));
    }
  }
  return counters;
}

/**
 * One of Postgres's counters of the database at `url` so far (`pg_stat_database`; `counter` is an
 * expression over its columns, e.g. `deadlocks`: each one rolled back a transaction, a failed attempt
 * of the job that ran it).
 */
export async function databaseCounter(url: string, counter: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `SELECT ${counter} AS n FROM pg_stat_database WHERE datname = current_database()`,
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}
