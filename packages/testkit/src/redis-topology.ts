/**
 * Real Redis topologies on loopback for one test: a Redis Cluster of N masters, or a master, a
 * replica and three Sentinels watching them. Debian's redis-server (and redis-sentinel, else
 * `redis-server --sentinel`) on free ports, in a temporary directory removed at stop.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type RunningProcess, startProcess, waitFor } from '@glassdome/stack';

export interface RedisNodeProcess {
  port: number;
  process: RunningProcess;
  /** One redis-cli command against this node; its output, trimmed. */
  cli(...args: string[]): string;
}

function cli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    encoding: 'utf8',
    timeout: 10_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

async function startNode(dir: string, args: string[], sentinel = false): Promise<RedisNodeProcess> {
  const port = await freePort();
  const common = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  let command = 'redis-server';
  let argv: string[];
  if (sentinel) {
    const config = join(dir, `sentinel-${port}.conf`);
    writeFileSync(config, `${args.join('\n')}\n`);
    const dedicated = existsSync('/usr/bin/redis-sentinel');
    command = dedicated ? 'redis-sentinel' : 'redis-server';
    argv = [config, ...(dedicated ? [] : ['--sentinel']), ...common];
  } else {
    argv = [...common, '--save', '', '--appendonly', 'no', ...args];
  }
  const process = startProcess(command, argv, { name: `${command}:${port}` });
  await waitFor(`${command} on ${port}`, () => {
    try {
      return cli(port, 'ping') === 'PONG';
    } catch {
      return false;
    }
  });
  return { port, process, cli: (...more) => cli(port, ...more) };
}

export interface RedisCluster {
  nodes: RedisNodeProcess[];
  /** REDIS_URL naming it (every node as a seed). */
  url: string;
  stop(): Promise<void>;
}

/** `masters` cluster nodes (no replicas), slots spread by `redis-cli --cluster create`. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'gd-redis-cluster-'));
  const nodes: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.process.stop(2_000)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i += 1) {
      // The cluster bus gets a free port of its own (by default it would be the port + 10000).
      const busPort = await freePort();
      nodes.push(
        await startNode(dir, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${i}.conf`),
          '--cluster-port',
          String(busPort),
          '--cluster-node-timeout',
          '2000',
        ]),
      );
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await new Promise<void>((resolve, reject) => {
      const create = spawn(
        'redis-cli',
        ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
        {
          stdio: 'ignore',
        },
      );
      create.on('error', reject);
      create.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create: ${code}`))));
    });
    await waitFor('cluster_state:ok on every node', () =>
      nodes.every((node) => node.cli('cluster', 'info').includes('cluster_state:ok')),
    );
    return { nodes, url: `redis-cluster://${addresses.join(',')}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface RedisSentinelSet {
  master: RedisNodeProcess;
  replica: RedisNodeProcess;
  sentinels: RedisNodeProcess[];
  /** The name the Sentinels know the master by. */
  name: string;
  /** REDIS_URL naming it. */
  url: string;
  /** The port of the node the Sentinels name master right now. */
  currentMasterPort(): number;
  stop(): Promise<void>;
}

/**
 * A master, one replica and three Sentinels (quorum 2) that call the master down after
 * `downAfterMs` without an answer and then promote the replica.
 */
export async function startRedisSentinel(
  options: { name?: string; downAfterMs?: number } = {},
): Promise<RedisSentinelSet> {
  const name = options.name ?? 'gdtest';
  const dir = mkdtempSync(join(tmpdir(), 'gd-redis-sentinel-'));
  const started: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((node) => node.process.stop(2_000)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const master = await startNode(dir, ['--dbfilename', 'master.rdb']);
    started.push(master);
    const replica = await startNode(dir, [
      '--dbfilename',
      'replica.rdb',
      '--replicaof',
      '127.0.0.1',
      String(master.port),
    ]);
    started.push(replica);
    await waitFor('the replica in sync', () => replica.cli('info', 'replication').includes('master_link_status:up'));
    const sentinels: RedisNodeProcess[] = [];
    for (let i = 0; i < 3; i += 1) {
      const sentinel = await startNode(
        dir,
        [
          `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1_000}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
        ],
        true,
      );
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // Every Sentinel must know the replica and the two other Sentinels before a failover can happen.
    await waitFor(
      'the Sentinels to know the replica and each other',
      () =>
        sentinels.every(
          (sentinel) =>
            sentinel.cli('sentinel', 'replicas', name).includes(String(replica.port)) &&
            sentinel
              .cli('sentinel', 'sentinels', name)
              .split('\n')
              .filter((line) => line === 'name').length === 2,
        ),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const currentMasterPort = () =>
      Number(sentinels[0]!.cli('sentinel', 'get-master-addr-by-name', name).split('\n')[1]);
    const url = `redis-sentinel://${sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(',')}/${name}`;
    return { master, replica, sentinels, name, url, currentMasterPort, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
