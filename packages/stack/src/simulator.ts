/**
 * Runs the Proxmox simulator (apps/pve-sim) as a child process and reads the info file it writes once
 * listening. Packages never import apps, so it is started by path, never imported.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SimulatorInfo, simulatorInfoSchema } from '@glassdome/config';
import { freePort } from './ports';
import { type RunningProcess, startProcess } from './process';
import { appArgs, type RunFrom, repoRoot } from './repo';
import { waitFor } from './wait';

export interface SimulatorOptions {
  /** PVE_SIM_TIME_SCALE: multiplier on every latency and timeout. @defaultValue 1 */
  timeScale?: number;
  /** HTTPS with a generated certificate, as Proxmox (true), or plain HTTP. @defaultValue true */
  tls?: boolean;
  /** API port. @defaultValue a free one */
  port?: number;
  /** Node SSH port. @defaultValue a free one */
  sshPort?: number;
  /** Port of every guest's SSH. @defaultValue a free one */
  guestSshPort?: number;
  /** Where the info file and root's generated SSH key go. @defaultValue a temporary directory, removed at stop */
  dir?: string;
  /** More PVE_SIM_* variables (state file, secrets, faults…); they win over the above. */
  env?: Record<string, string>;
  /** Every line the simulator prints. */
  onLine?: (line: string) => void;
  /** How long it may take to listen. @defaultValue 60000 */
  startTimeoutMs?: number;
  /** The compiled bundle or the TypeScript source. @defaultValue runFrom() (GLASSDOME_RUN_FROM, else dist) */
  from?: RunFrom;
}

/** The info of a simulator started here: root's SSH key is always generated, so its path is known. */
export type LocalSimulatorInfo = SimulatorInfo & { sshPrivateKeyPath: string };

export interface LocalSimulator {
  info: LocalSimulatorInfo;
  process: RunningProcess;
  /** Calls the simulator's admin endpoint (`/_sim/...`). */
  admin(method: string, path: string, body?: unknown): Promise<unknown>;
  /** SIGTERM (the simulator saves its state file, if it has one), then removes a temporary directory. */
  stop(): Promise<void>;
}

function readInfo(file: string): LocalSimulatorInfo | undefined {
  if (!existsSync(file)) return undefined;
  const parsed = simulatorInfoSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`${file} is not a simulator info file: ${problems.join('; ')}`);
  }
  const info = parsed.data;
  if (!info.sshPrivateKeyPath) throw new Error(`${file}: the simulator generated no root SSH key`);
  return { ...info, sshPrivateKeyPath: info.sshPrivateKeyPath };
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<LocalSimulator> {
  const temporary = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'gd-sim-'));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const infoFile = join(dir, 'pve-sim-info.json');
  rmSync(infoFile, { force: true });
  const sim = startProcess(process.execPath, appArgs('pve-sim', options.from), {
    cwd: repoRoot,
    name: 'pve-sim',
    ...(options.onLine ? { onLine: options.onLine } : {}),
    env: {
      PVE_SIM_PORT: String(options.port ?? 0),
      PVE_SIM_SSH_PORT: String(options.sshPort ?? (await freePort())),
      PVE_SIM_GUEST_SSH_PORT: String(options.guestSshPort ?? (await freePort())),
      PVE_SIM_TLS: options.tls === false ? '0' : '1',
      PVE_SIM_TIME_SCALE: String(options.timeScale ?? 1),
      PVE_SIM_INFO_FILE: infoFile,
      ...options.env,
    },
  });
  const removeDir = () => {
    if (temporary) rmSync(dir, { recursive: true, force: true });
  };
  let info: LocalSimulatorInfo;
  try {
    const exitedEarly = sim.exited.then((code) => {
      throw new Error(`pve-sim exited with ${code} before listening:\n${sim.output().slice(-2000)}`);
    });
    const listening = waitFor('pve-sim info file', () => readInfo(infoFile), {
      timeoutMs: options.startTimeoutMs ?? 60_000,
    });
    info = await Promise.race([listening, exitedEarly]);
  } catch (error) {
    await sim.stop(2000);
    removeDir();
    throw error;
  }
  return {
    info,
    process: sim,
    async admin(method, path, body) {
      const response = await fetch(`${info.adminUrl.replace(/\/$/, '')}${path}`, {
        method,
        headers: { Authorization: `Bearer ${info.adminSecret}`, 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    },
    async stop() {
      await sim.stop(5000);
      removeDir();
    },
  };
}

/** What Glassdome's processes need to use the simulator: its API, token, node, storage, bridge and SSH. */
export function simulatorEnv(info: LocalSimulatorInfo): Record<string, string> {
  return {
    PROXMOX_URL: info.apiUrl,
    PROXMOX_TOKEN_ID: info.tokenId,
    PROXMOX_TOKEN_SECRET: info.tokenSecret,
    PROXMOX_NODE: info.node,
    PROXMOX_STORAGE: info.storage,
    PROXMOX_BRIDGE: info.bridge,
    ...(info.tlsFingerprint ? { PROXMOX_TLS_FINGERPRINT: info.tlsFingerprint } : {}),
    PROXMOX_SSH_HOST: `127.0.0.1:${info.sshPort}`,
    PROXMOX_SSH_USER: info.sshUser,
    PROXMOX_SSH_KEY_FILE: info.sshPrivateKeyPath,
    PROXMOX_SSH_HOST_KEY: info.sshHostKeyFingerprint,
    GUEST_SSH_PORT: String(info.guestSshPort),
    // The simulator's pve-firewall compiles on its (scaled) period, not Proxmox's 10 s.
    ...(info.firewallUpdateMs === undefined ? {} : { FIREWALL_APPLY_SECONDS: String(info.firewallUpdateMs / 1000) }),
  };
}
