import { Producer, QUEUES } from '@glassdome/queue';
import type { Command } from 'commander';
import { proxmoxOf } from '../cluster';
import type { ConfigFile } from '../config-file';
import type { CliContext } from '../context';
import { ApiUnreachableError, WorkFailedError } from '../errors';
import { withJson } from './options';

/** One line of `glassdome status`: a part of the stack and whether it works. */
interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

async function apiChecks(ctx: CliContext): Promise<Check[]> {
  const client = ctx.client();
  const health = await client.probe('/healthz');
  const checks: Check[] = [
    { name: 'api', ok: health.status === 200, detail: `${client.apiUrl} answered ${health.status}` },
  ];
  const ready = await client.probe('/readyz');
  for (const part of ['redis', 'postgres'] as const) {
    const ok = ready.body[part] === true;
    checks.push({ name: part, ok, detail: ok ? 'reachable from the API' : 'NOT reachable from the API' });
  }
  return checks;
}

/** Workers online per queue, read from Redis (BullMQ names each worker connection after its queue). */
async function workerCheck(config: ConfigFile, env: NodeJS.ProcessEnv): Promise<Check> {
  const redisUrl = env.REDIS_URL ?? config.redisUrl;
  if (!redisUrl)
    return { name: 'workers', ok: true, detail: 'not checked (no Redis URL: run glassdome setup or set REDIS_URL)' };
  let producer: Producer | undefined;
  try {
    producer = await Producer.open(redisUrl, env.QUEUE_PREFIX ?? config.queuePrefix ?? '{glassdome}', 3_000);
    const counts = await Promise.all(
      Object.values(QUEUES).map(async (queue) => [queue, (await producer!.queues[queue].getWorkers()).length] as const),
    );
    const idle = counts.filter(([, count]) => count === 0).map(([queue]) => queue);
    return {
      name: 'workers',
      ok: idle.length === 0,
      detail: `${counts.map(([queue, count]) => `${queue} ${count}`).join(', ')}${idle.length ? ` (no worker on ${idle.join(', ')})` : ''}`,
    };
  } catch (error) {
    return {
      name: 'workers',
      ok: false,
      detail: `Redis not reachable: ${error instanceof Error ? error.message : error}`,
    };
  } finally {
    await producer?.close().catch(() => undefined);
  }
}

async function clusterCheck(config: ConfigFile): Promise<Check> {
  if (!config.proxmox)
    return { name: 'cluster', ok: true, detail: 'not checked (no Proxmox target: run glassdome setup)' };
  const proxmox = proxmoxOf(config.proxmox);
  try {
    const nodes = await proxmox.cluster.nodes();
    const node = nodes.find((candidate) => candidate.node === config.proxmox!.node);
    const ok = node?.online === true;
    return {
      name: 'cluster',
      ok,
      detail: `${config.proxmox.url}: node ${config.proxmox.node} ${node ? (node.online ? 'online' : 'offline') : 'not found'}`,
    };
  } catch (error) {
    return {
      name: 'cluster',
      ok: false,
      detail: `${config.proxmox.url}: ${error instanceof Error ? error.message : error}`,
    };
  } finally {
    proxmox.close();
  }
}

async function runStatus(ctx: CliContext, options: { json?: boolean }): Promise<void> {
  const config = ctx.config();
  let checks: Check[];
  let unreachable: ApiUnreachableError | undefined;
  try {
    checks = await apiChecks(ctx);
  } catch (error) {
    if (!(error instanceof ApiUnreachableError)) throw error;
    unreachable = error;
    checks = [{ name: 'api', ok: false, detail: error.message }];
  }
  checks.push(await workerCheck(config, ctx.env), await clusterCheck(config));
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
      .description('stack health: API, Redis, Postgres, workers online per queue, cluster reachable')
      .addHelpText(
        'after',
        '\nRedis and Postgres are as the API sees them (/readyz). Workers are counted in Redis (REDIS_URL and\n' +
          "QUEUE_PREFIX, else the config file); the cluster is asked with the config file's Proxmox target.\n" +
          'Exit 1 when any part is down, 3 when the API cannot be reached.',
      ),
  ).action((options: { json?: boolean }) => runStatus(ctx, options));
}
