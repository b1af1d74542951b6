import type { Command } from 'commander';
import type { CliContext } from '../context';
import { ApiUnreachableError, WorkFailedError } from '../errors';
import { withJson } from './options';

/** One line of `glassdome status`: a part of the stack and whether it works. */
interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** The answer of `GET /api/v1/system/status` (its schema is in the API's OpenAPI document). */
interface SystemStatus {
  redis: { reachable: boolean };
  postgres: { reachable: boolean };
  queues: { name: string; waiting: number; active: number; delayed: number; failed: number; workers: number }[];
  overseer: {
    lastScan: {
      replica: string;
      finishedAt: string;
      vms: number;
      findings: number;
      nodes: { node: string; online: boolean }[];
    } | null;
  };
}

function ago(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}

function queueChecks(status: SystemStatus): Check[] {
  if (!status.redis.reachable) return [{ name: 'workers', ok: false, detail: 'unknown: Redis cannot be reached' }];
  const idle = status.queues.filter((queue) => queue.workers === 0).map((queue) => queue.name);
  const sum = (field: 'waiting' | 'active' | 'delayed' | 'failed') =>
    status.queues.reduce((total, queue) => total + queue[field], 0);
  const failedIn = status.queues.filter((queue) => queue.failed > 0).map((queue) => `${queue.name} ${queue.failed}`);
  return [
    {
      name: 'workers',
      ok: idle.length === 0,
      detail: `${status.queues.map((queue) => `${queue.name} ${queue.workers}`).join(', ')}${idle.length ? ` (no worker on ${idle.join(', ')})` : ''}`,
    },
    {
      // A backlog or failed jobs are worth seeing, not a reason to call the stack down.
      name: 'jobs',
      ok: true,
      detail: `${sum('waiting')} waiting, ${sum('active')} active, ${sum('delayed')} delayed, ${sum('failed')} failed${failedIn.length ? ` (${failedIn.join(', ')})` : ''}`,
    },
  ];
}

/** The cluster as the overseer's newest scan saw it: the CLI itself never talks to Proxmox. */
function clusterCheck(status: SystemStatus, now: number): Check {
  const scan = status.overseer.lastScan;
  if (!scan) return { name: 'cluster', ok: false, detail: 'no overseer scan recorded yet (is an overseer running?)' };
  const offline = scan.nodes.filter((node) => !node.online).map((node) => node.node);
  const nodes = scan.nodes.map((node) => `${node.node} ${node.online ? 'online' : 'offline'}`).join(', ');
  return {
    name: 'cluster',
    ok: offline.length === 0 && scan.nodes.length > 0,
    detail: `${nodes || 'no node seen'}; ${scan.vms} VMs, ${scan.findings} findings (overseer scan ${ago(scan.finishedAt, now)} by ${scan.replica})`,
  };
}

async function apiChecks(ctx: CliContext): Promise<Check[]> {
  const client = ctx.client();
  const health = await client.probe('/healthz');
  const checks: Check[] = [
    { name: 'api', ok: health.status === 200, detail: `${client.apiUrl} answered ${health.status}` },
  ];
  const status = await client.call<SystemStatus>('GET', '/system/status');
  for (const part of ['redis', 'postgres'] as const) {
    const ok = status[part].reachable;
    checks.push({ name: part, ok, detail: ok ? 'reachable from the API' : 'NOT reachable from the API' });
  }
  checks.push(...queueChecks(status), clusterCheck(status, Date.now()));
  return checks;
}

async function runStatus(ctx: CliContext, options: { json?: boolean }): Promise<void> {
  let checks: Check[];
  let unreachable: ApiUnreachableError | undefined;
  try {
    checks = await apiChecks(ctx);
  } catch (error) {
    if (!(error instanceof ApiUnreachableError)) throw error;
    unreachable = error;
    checks = [{ name: 'api', ok: false, detail: error.message }];
  }
  if (options.json) ctx.printJson(checks);
  else for (const check of checks) ctx.print(`${check.name.padEnd(9)} ${check.ok ? 'ok  ' : 'FAIL'}  ${check.detail}`);
  if (unreachable) throw unreachable;
  const failed = checks.filter((check) => !check.ok).map((check) => check.name);
  if (failed.length > 0) throw new WorkFailedError(`not healthy: ${failed.join(', ')}`);
}

export function registerStatusCommand(program: Command, ctx: CliContext): void {
  withJson(
    program
      .command('status')
      .description('stack health: API, Redis, Postgres, workers per queue, jobs, the cluster as last scanned')
      .addHelpText(
        'after',
        '\nEverything is asked of the API (GET /api/v1/system/status): Redis and Postgres as the API sees them,\n' +
          "workers connected per queue, job counts, and the cluster's nodes as the overseer's last scan saw them.\n" +
          'Exit 1 when any part is down, 3 when the API cannot be reached.',
      ),
  ).action((options: { json?: boolean }) => runStatus(ctx, options));
}
