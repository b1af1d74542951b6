/**
 * Runs Glassdome's processes (api, installers, gateway) against a simulator, a database and a Redis
 * prefix of the caller's: what end-to-end tests and `pnpm start` both need.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { type RunningProcess, startProcess } from './process';
import type { SimulatorInfo } from './simulator';

export interface StackOptions {
  sim: SimulatorInfo;
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

const root = new URL('../../../', import.meta.url).pathname;
const tsx = (entry: string) => ['--import', 'tsx', join(root, entry)];

export async function startStack(options: StackOptions): Promise<RunningStack> {
  const dir = mkdtempSync(join(tmpdir(), 'gd-stack-'));
  const guestKeyFile = join(dir, 'guest_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'glassdome', '-f', guestKeyFile]);
  const adminKey = `gd_admin_${randomBytes(18).toString('hex')}`;
  const apiPort = options.apiPort ?? (await freePort());
  const sim = options.sim;
  const common: Record<string, string> = {
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    QUEUE_PREFIX: options.queuePrefix,
    LOG_LEVEL: 'info',
    PROXMOX_URL: sim.apiUrl,
    PROXMOX_TOKEN_ID: sim.tokenId,
    PROXMOX_TOKEN_SECRET: sim.tokenSecret,
    PROXMOX_NODE: sim.node,
    PROXMOX_STORAGE: sim.storage,
    PROXMOX_BRIDGE: sim.bridge,
    ...(sim.tlsFingerprint ? { PROXMOX_TLS_FINGERPRINT: sim.tlsFingerprint } : {}),
    PROXMOX_SSH_HOST: `127.0.0.1:${sim.sshPort}`,
    PROXMOX_SSH_USER: 'root',
    PROXMOX_SSH_KEY_FILE: sim.sshPrivateKeyPath,
    PROXMOX_SSH_HOST_KEY: sim.sshHostKeyFingerprint,
    GUEST_SSH_KEY_FILE: guestKeyFile,
    GUEST_SSH_PORT: String(sim.guestSshPort),
    TEMPLATE_VMIDS: `ubuntu-22.04=${sim.templateVmid}`,
    WORKER_SHUTDOWN_SECONDS: '5',
    ...options.env,
  };
  const started: RunningProcess[] = [];
  const launch = (name: string, entry: string, env: Record<string, string> = {}) => {
    const child = startProcess(process.execPath, tsx(entry), { cwd: root, name, env: { ...common, ...env } });
    started.push(child);
    return child;
  };
  try {
    const api = launch('api', 'apps/api/src/main.ts', {
      API_PORT: String(apiPort),
      API_HOST: '127.0.0.1',
      GLASSDOME_ADMIN_KEY: adminKey,
    });
    // The API migrates first, so workers starting after it find the schema in place.
    await api.waitForOutput('api listening', 60_000);
    const addInstaller = async () => {
      const installer = launch('installer', 'apps/installer/src/main.ts');
      await installer.waitForOutput('installer ready', 60_000);
      return installer;
    };
    const installers = await Promise.all(Array.from({ length: options.installers ?? 2 }, addInstaller));
    let gateway: RunningProcess | undefined;
    if (options.gateway ?? true) {
      gateway = launch('gateway', 'apps/gateway/src/main.ts');
      await gateway.waitForOutput('gateway ready', 60_000);
    }
    let overseer: RunningProcess | undefined;
    if (options.overseer) {
      overseer = launch('overseer', 'apps/overseer/src/main.ts');
      await overseer.waitForOutput('overseer ready', 60_000);
    }
    return {
      apiUrl: `http://127.0.0.1:${apiPort}`,
      adminKey,
      guestKeyFile,
      api,
      installers,
      gateway,
      overseer,
      addInstaller,
      async stop() {
        await Promise.all(started.map((child) => child.stop(10_000)));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(started.map((child) => child.stop(2_000)));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
