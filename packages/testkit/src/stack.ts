/**
 * Glassdome's processes (api, installers, gateway, optionally the overseer) against a simulator, a
 * database and a Redis prefix of the test's own, with a guest key and an admin key made for it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type LocalSimulatorInfo, type RunningProcess, simulatorEnv, startServices } from '@glassdome/stack';
import { createTestDatabase, type TestDatabase } from './postgres';
import { createRedisPrefix, type TestRedis } from './redis';
import { startSimulator, type TestSimulator } from './simulator';

export interface StackOptions {
  sim: LocalSimulatorInfo;
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  /** @defaultValue 2 */
  installers?: number;
  /** @defaultValue true */
  gateway?: boolean;
  /** @defaultValue false */
  overseer?: boolean;
  /** Extra variables for every process. */
  env?: Record<string, string>;
  /** @defaultValue a free port */
  apiPort?: number;
}

export interface RunningStack {
  apiUrl: string;
  adminKey: string;
  /** The key Glassdome logs into guests with (a file of this stack's). */
  guestKeyFile: string;
  api: RunningProcess;
  installers: RunningProcess[];
  gateway: RunningProcess | undefined;
  overseer: RunningProcess | undefined;
  /** Starts one more installer (e.g. to replace one a test killed). */
  addInstaller(): Promise<RunningProcess>;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<RunningStack> {
  const dir = mkdtempSync(join(tmpdir(), 'gd-stack-'));
  const guestKeyFile = join(dir, 'guest_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'glassdome', '-f', guestKeyFile]);
  const adminKey = `gd_admin_${randomBytes(18).toString('hex')}`;
  try {
    const services = await startServices({
      apiPort: options.apiPort ?? (await freePort()),
      installers: options.installers ?? 2,
      gateway: options.gateway ?? true,
      overseer: options.overseer ?? false,
      env: {
        DATABASE_URL: options.databaseUrl,
        REDIS_URL: options.redisUrl,
        QUEUE_PREFIX: options.queuePrefix,
        LOG_LEVEL: 'info',
        ...simulatorEnv(options.sim),
        GLASSDOME_ADMIN_KEY: adminKey,
        GUEST_SSH_KEY_FILE: guestKeyFile,
        TEMPLATE_VMIDS: `ubuntu-22.04=${options.sim.templateVmid}`,
        WORKER_SHUTDOWN_SECONDS: '5',
        ...options.env,
      },
    });
    return {
      apiUrl: services.apiUrl,
      adminKey,
      guestKeyFile,
      api: services.api,
      installers: services.installers,
      gateway: services.gateway,
      overseer: services.overseer,
      addInstaller: services.addInstaller,
      async stop() {
        await services.stop(10_000);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A simulator, a database, a Redis prefix and the Glassdome processes, all one test file's own. */
export interface IsolatedStack {
  sim: TestSimulator;
  database: TestDatabase;
  redis: TestRedis;
  stack: RunningStack;
  /** Stops the processes and the simulator, drops the database and clears the Redis prefix. */
  stop(): Promise<void>;
}

/**
 * Starts an IsolatedStack: `options` go to startStack (its simulator, database and Redis filled in),
 * `simEnv` to the simulator; whatever started is cleaned up again if a later part fails.
 */
export async function startIsolatedStack(
  options: Partial<StackOptions> = {},
  simEnv: Record<string, string> = {},
  name = 'e2e',
): Promise<IsolatedStack> {
  const sim = await startSimulator({ env: simEnv });
  const database = await createTestDatabase(name);
  const redis = createRedisPrefix(name);
  const cleanup = async () => {
    await sim.stop();
    await database.drop();
    await redis.cleanup();
  };
  let stack: RunningStack;
  try {
    stack = await startStack({
      sim: sim.info,
      databaseUrl: database.url,
      redisUrl: redis.url,
      queuePrefix: redis.prefix,
      ...options,
    });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    sim,
    database,
    redis,
    stack,
    async stop() {
      await stack.stop();
      await cleanup();
    },
  };
}
