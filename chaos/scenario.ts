/**
 * A chaos scenario: a cluster of its own, a workload, a fault, and a verdict. `runScenario` starts
 * the cluster, runs the scenario's script, waits for every row it requested to settle, counts
 * duplicates and orphaned leases, tears everything down through the API, counts what is left, and
 * stops every process it started.
 */
import { ChaosCluster, type ClusterOptions } from './cluster';
import {
  countDuplicates,
  countOrphanLeases,
  countRows,
  type RowCounts,
  type Tracked,
  tearDownAndCount,
  waitForSettled,
} from './measure';

export type Size = 'full' | 'small';

export interface Scenario {
  name: string;
  /** One line for the report: what is done to the cluster. */
  title: string;
  cluster?: Omit<ClusterOptions, 'label'>;
  /** Rows that may end failed (with a reason); every other must end ready, or destroyed when the scenario destroys it. @defaultValue 0 */
  allowedFailures?: number;
  /** How long rows may take to settle once the script returns. @defaultValue 240000 */
  settleMs?: number;
  run(ctx: ScenarioContext): Promise<void>;
}

/** What an API probe saw while a backing service was away. */
export interface ApiProbe {
  calls: number;
  byStatus: Record<string, number>;
  maxMs: number;
}

export interface ScenarioResult {
  name: string;
  title: string;
  requested: { vms: number; labs: number; rows: number };
  counts: RowCounts;
  duplicates: number;
  leakedLeases: number;
  leakedVms: number;
  settleSeconds: number;
  totalSeconds: number;
  api?: ApiProbe;
  notes: string[];
  /** Expectations the run did not meet; empty when it passed. */
  problems: string[];
}

export class ScenarioContext {
  readonly tracked: Tracked = { vms: new Set(), labs: new Set() };
  /** Rows the scenario destroys on purpose (VMs, labs and their VMs): they must end destroyed, not ready. */
  readonly destroyed = new Set<string>();
  readonly notes: string[] = [];
  readonly problems: string[] = [];
  api: ApiProbe | undefined;
  #names = 0;
  readonly #problemCounts = new Map<string, number>();

  constructor(
    readonly cluster: ChaosCluster,
    readonly size: Size,
  ) {}

  /** Picks the full or the small figure. */
  pick<T>(full: T, small: T): T {
    return this.size === 'full' ? full : small;
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /** Records an expectation the run did not meet (the same one seen again is counted, not repeated). */
  problem(text: string): void {
    const seen = this.#problemCounts.get(text) ?? 0;
    this.#problemCounts.set(text, seen + 1);
    if (seen === 0) this.problems.push(text);
    else {
      const index = this.problems.findIndex((p) => p === text || p.startsWith(`${text} (`));
      this.problems[index] = `${text} (${seen + 1} times)`;
    }
  }

  async deployVm(body: Record<string, unknown> = {}): Promise<string> {
    const name = `vm-${++this.#names}`;
    const answer = await this.cluster.api('POST', '/api/v1/vms', { name, os: 'ubuntu-22.04', ...body });
    if (answer.status !== 202) throw new Error(`POST /vms answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const id = String(answer.body.id);
    this.tracked.vms.add(id);
    return id;
  }

  async deployLab(spec: Record<string, unknown>): Promise<string> {
    const answer = await this.cluster.api('POST', '/api/v1/labs', { name: `lab-${++this.#names}`, ...spec });
    if (answer.status !== 202) throw new Error(`POST /labs answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const id = String(answer.body.id);
    this.tracked.labs.add(id);
    return id;
  }

  async destroyVm(id: string): Promise<void> {
    const answer = await this.cluster.api('DELETE', `/api/v1/vms/${id}`);
    if (answer.status !== 202) this.problem(`DELETE /vms answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    this.destroyed.add(id);
  }

  /** Deletes a lab; it and its VMs must end destroyed. */
  async destroyLab(id: string): Promise<void> {
    const answer = await this.cluster.api('DELETE', `/api/v1/labs/${id}`);
    if (answer.status !== 202) this.problem(`DELETE /labs answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    this.destroyed.add(id);
    for (const vmId of await this.vmsOfLab(id)) this.destroyed.add(vmId);
  }

  /** Status of one step of a VM, straight from Postgres. */
  async stepStatus(vmId: string, step: string): Promise<string | undefined> {
    const row = await this.cluster.db
      .selectFrom('steps')
      .select('status')
      .where('vm_id', '=', vmId)
      .where('name', '=', step)
      .executeTakeFirst();
    return row?.status;
  }

  /**
   * Waits until a step of one of `vmIds` is running; true when one was caught running, false when
   * the step was already over for all of them (fast steps may slip between two polls).
   */
  async waitForStep(vmIds: string[], step: string, timeoutMs = 60_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const rows = await this.cluster.db
        .selectFrom('steps')
        .select(['status'])
        .where('vm_id', 'in', vmIds)
        .where('name', '=', step)
        .execute();
      if (rows.some((row) => row.status === 'running')) return true;
      if (rows.length > 0 && rows.every((row) => row.status === 'done')) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return false;
  }

  /** VM ids of a lab. */
  async vmsOfLab(labId: string): Promise<string[]> {
    const rows = await this.cluster.db.selectFrom('vms').select('id').where('lab_id', '=', labId).execute();
    return rows.map((row) => row.id);
  }

  /** Waits until a lab task whose id starts with `prefix` is running. */
  async waitForLabTask(labId: string, prefix: string, timeoutMs = 60_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const rows = await this.cluster.db
        .selectFrom('steps')
        .select(['name', 'status'])
        .where('lab_id', '=', labId)
        .where('vm_id', 'is', null)
        .execute();
      const matching = rows.filter((row) => row.name.startsWith(prefix));
      if (matching.some((row) => row.status === 'running')) return true;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return false;
  }

  /**
   * Calls the API every 200 ms while `outage` runs: a read (GET /vms) and, with `writes`, a deploy.
   * Every answer must be a 2xx or a 503; a 500 or no answer within 5 s is a problem.
   */
  async probeApiDuring(outage: () => Promise<void>, options: { writes?: boolean } = {}): Promise<void> {
    const probe: ApiProbe = this.api ?? { calls: 0, byStatus: {}, maxMs: 0 };
    this.api = probe;
    let running = true;
    const record = (status: number, ms: number) => {
      probe.calls++;
      probe.byStatus[String(status)] = (probe.byStatus[String(status)] ?? 0) + 1;
      probe.maxMs = Math.max(probe.maxMs, Math.round(ms));
      if (status === 0 || status >= 500) {
        if (status !== 503)
          this.problem(`the API answered ${status === 0 ? 'nothing within 5 s' : status} during the outage`);
      }
    };
    const loop = (async () => {
      while (running) {
        const read = await this.cluster.api('GET', '/api/v1/vms?limit=5', undefined, 5_000);
        record(read.status, read.ms);
        if (options.writes) {
          const name = `probe-${++this.#names}`;
          const write = await this.cluster.api('POST', '/api/v1/vms', { name, os: 'ubuntu-22.04' }, 5_000);
          record(write.status, write.ms);
          // A deploy the API accepted during the outage must end like any other.
          if (write.status === 202) this.tracked.vms.add(String(write.body.id));
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    try {
      await outage();
    } finally {
      running = false;
      await loop;
    }
  }
}

export async function runScenario(scenario: Scenario, size: Size, label = scenario.name): Promise<ScenarioResult> {
  const started = Date.now();
  const cluster = await ChaosCluster.start({ label, ...scenario.cluster });
  const ctx = new ScenarioContext(cluster, size);
  try {
    try {
      await scenario.run(ctx);
    } catch (error) {
      ctx.problem(`the scenario's script failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    const settleSeconds = await waitForSettled(cluster, ctx.tracked, scenario.settleMs ?? 240_000);
    const counts = await countRows(cluster, ctx.tracked);
    const duplicates = await countDuplicates(cluster);
    const orphanLeases = await countOrphanLeases(cluster);
    const leftovers = await tearDownAndCount(cluster, ctx.tracked, 180_000);
    const result: ScenarioResult = {
      name: scenario.name,
      title: scenario.title,
      requested: { vms: ctx.tracked.vms.size, labs: ctx.tracked.labs.size, rows: counts.rows },
      counts,
      duplicates: duplicates.count,
      leakedLeases: orphanLeases.count + leftovers.leases,
      leakedVms: leftovers.vms,
      settleSeconds: Math.round(settleSeconds),
      totalSeconds: Math.round((Date.now() - started) / 1000),
      ...(ctx.api ? { api: ctx.api } : {}),
      notes: ctx.notes,
      problems: ctx.problems,
    };
    judge(scenario, ctx, result, [...duplicates.detail, ...orphanLeases.detail], leftovers.notDestroyed);
    return result;
  } finally {
    await cluster.stop();
  }
}

function judge(
  scenario: Scenario,
  ctx: ScenarioContext,
  result: ScenarioResult,
  details: string[],
  notDestroyed: string[],
): void {
  const { counts } = result;
  if (counts.stale > 0) ctx.problem(`${counts.stale} rows never settled: ${counts.staleRows.join(', ')}`);
  if (counts.failedWithoutReason > 0) ctx.problem(`${counts.failedWithoutReason} rows failed without a reason`);
  if (result.duplicates > 0 || result.leakedLeases > 0) ctx.problem(details.join('; '));
  if (result.leakedVms > 0) ctx.problem(`${result.leakedVms} Proxmox VMs left after the tear-down`);
  if (notDestroyed.length > 0) ctx.problem(`not destroyed by the tear-down: ${notDestroyed.join(', ')}`);
  const expectedReady = counts.rows - ctx.destroyed.size - (scenario.allowedFailures ?? 0);
  if (counts.ready < expectedReady) {
    ctx.problem(`${counts.ready} of ${expectedReady} rows ready: ${counts.reasons.join('; ')}`);
  }
  if (counts.destroyed < ctx.destroyed.size) {
    ctx.problem(`${counts.destroyed} of ${ctx.destroyed.size} deleted VMs ended destroyed`);
  }
}
