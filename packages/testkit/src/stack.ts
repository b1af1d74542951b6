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
