/**
 * Redis and Postgres of the chaos run's own, on free loopback ports, so a scenario can stop, kill,
 * restart or wipe them without touching anyone else's: a `redis-server` with an append-only file
 * (a stop keeps every job, a wipe loses them all) and a private Postgres cluster made with `initdb`
 * and driven with `pg_ctl` as the `postgres` user.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
// chaos/ has no package.json (like bench/): Glassdome's packages are imported from their sources.
import { checkRedis } from '../packages/queue/src/index';
import { freePort, type RunningProcess, startProcess, waitFor } from '../packages/stack/src/index';

export interface PrivateRedis {
  url: string;
  port: number;
  /** SIGTERM: Redis writes its append-only file and exits; `start()` brings every key back. */
  stop(): Promise<void>;
  /** kill -9, as a crash. */
  kill(): Promise<void>;
  /** Deletes what Redis kept on disk (call while it is down): the next start is empty. */
  wipe(): void;
  start(): Promise<void>;
}

async function redisAnswers(port: number): Promise<boolean> {
  return checkRedis(`redis://127.0.0.1:${port}`).then(
    () => true,
    () => false,
  );
}

export async function startRedis(dir: string): Promise<PrivateRedis> {
  const port = await freePort();
  const dataDir = join(dir, 'redis');
  mkdirSync(dataDir, { recursive: true });
  let server: RunningProcess | undefined;
  const start = async () => {
    server = startProcess(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dataDir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--save',
        '',
        '--loglevel',
        'warning',
      ],
      { name: 'redis-server' },
    );
    await waitFor(`redis on ${port}`, () => redisAnswers(port), { timeoutMs: 15_000, intervalMs: 50 });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    async stop() {
      await server?.stop(10_000);
    },
    async kill() {
      await server?.kill();
    },
    wipe() {
      for (const entry of readdirSync(dataDir)) rmSync(join(dataDir, entry), { recursive: true, force: true });
    },
  };
}

export interface PrivatePostgres {
  port: number;
  /** A database URL on this cluster. */
  url(database: string): string;
  createDatabase(name: string): Promise<string>;
  /** `pg_ctl stop -m fast`: connections are cut, the server is down until `start()`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** `pg_ctl stop -m immediate` (no shutdown checkpoint), as a crash. */
  kill(): Promise<void>;
}

/** The newest PostgreSQL server binaries on the machine. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) throw new Error(`no PostgreSQL server under ${root}: install postgresql`);
  return join(root, versions[0], 'bin');
}

function asPostgres(command: string, args: string[]): void {
  execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'pipe' });
}

export async function startPostgres(dir: string): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const port = await freePort();
  const home = join(dir, 'postgres');
  const data = join(home, 'data');
  mkdirSync(home, { recursive: true });
  // The cluster belongs to the postgres user, as Postgres insists; so does the directory above it.
  execFileSync('chown', ['postgres:postgres', dir, home]);
  asPostgres(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const options = [
    `-p ${port}`,
    `-k ${home}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
  ].join(' ');
  const pgCtl = (args: string[]) => asPostgres(join(bin, 'pg_ctl'), ['-D', data, ...args]);
  const start = async () => {
    pgCtl(['-o', options, '-l', join(home, 'server.log'), '-w', '-t', '60', 'start']);
  };
  await start();
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    start,
    async stop() {
      pgCtl(['-m', 'fast', '-w', 'stop']);
    },
    async kill() {
      pgCtl(['-m', 'immediate', '-w', 'stop']);
    },
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return url(name);
    },
  };
}
