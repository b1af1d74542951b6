/**
 * What the lab benches measure after a run: processes' CPU and memory from /proc, and each task of a
 * lab's graph's own duration from the steps Postgres recorded.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { waitFor } from '@glassdome/testkit';
import type { Db } from '../packages/db/src/index';
import type { LabGraph, LabTask } from '../packages/lab/src/index';
import { VM_DEPLOY_STEPS } from '../packages/queue/src/index';

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
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
  const steps = await vmStepTimes(db, labId);
  const labSteps = await db
    .selectFrom('steps')
    .select(['name', 'started_at', 'finished_at'])
    .where('lab_id', '=', labId)
    .where('vm_id', 'is', null)
    .execute();
  const span = (rows: { startedAt: number; finishedAt: number }[]) =>
    rows.length === 0 ? 0 : Math.max(...rows.map((r) => r.finishedAt)) - Math.min(...rows.map((r) => r.startedAt));
  const byTask = new Map<string, number>();
  for (const task of graph.tasks) {
    if (task.kind === 'network' || task.kind === 'isolation') {
      const own = labSteps
        .filter((s) => s.name === task.id && s.started_at && s.finished_at)
        .map((s) => ({ startedAt: s.started_at!.getTime(), finishedAt: s.finished_at!.getTime() }));
      byTask.set(task.id, span(own));
      continue;
    }
    const own = steps.filter(
      (s) =>
        s.vm === task.vmName &&
        (s.copy ?? 0) === task.copy &&
        PROVISION_STEPS.has(s.step) === (task.kind === 'vm-provision'),
    );
    byTask.set(task.id, span(own));
  }
  return (task) => byTask.get(task.id) ?? 0;
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
): Promise<{ id: string; status: string; error: string | null; makespanMs: number }> {
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
  return { id, status: lab.status, error: lab.error, makespanMs: lab.updated_at.getTime() - started };
}
