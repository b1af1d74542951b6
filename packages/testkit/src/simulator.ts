/**
 * Starts the Proxmox simulator (apps/pve-sim) as a child process for one test file, on free ports and
 * a fast time scale, and reads the info file it writes once listening. Packages must not import apps,
 * so it is run, never imported.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { startProcess } from './process';
import { waitFor } from './wait';

export interface SimulatorInfo {
  apiUrl: string;
  tlsFingerprint: string | null;
  /** PEM of the CA that signed the API certificate; null over plain HTTP. */
  caCert: string | null;
  tokenId: string;
  tokenSecret: string;
  rootPassword: string;
  node: string;
  storage: string;
  bridge: string;
  templateVmid: number;
  adminUrl: string;
  adminSecret: string;
  sshPort: number;
  sshHostKeyFingerprint: string;
  sshPrivateKeyPath: string;
  guestSshPort: number;
}

export interface TestSimulator {
  info: SimulatorInfo;
  /** Calls the simulator's admin endpoint (`/_sim/...`). */
  admin(method: string, path: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

const root = new URL('../../../', import.meta.url).pathname;

export async function startSimulator(
  options: { timeScale?: number; tls?: boolean; env?: Record<string, string> } = {},
): Promise<TestSimulator> {
  const dir = mkdtempSync(join(tmpdir(), 'gd-sim-'));
  const infoFile = join(dir, 'info.json');
  const guestSshPort = await freePort();
  const sim = startProcess(process.execPath, ['--import', 'tsx', join(root, 'apps/pve-sim/src/main.ts')], {
    cwd: root,
    name: 'pve-sim',
    env: {
      PVE_SIM_PORT: '0',
      PVE_SIM_SSH_PORT: String(await freePort()),
      PVE_SIM_GUEST_SSH_PORT: String(guestSshPort),
      PVE_SIM_TLS: options.tls ? '1' : '0',
      PVE_SIM_TIME_SCALE: String(options.timeScale ?? 0.01),
      PVE_SIM_INFO_FILE: infoFile,
      PVE_SIM_ADMIN_SECRET: randomBytes(16).toString('hex'),
      LOG_LEVEL: 'warn',
      ...options.env,
    },
  });
  let info: SimulatorInfo;
  try {
    const exitedEarly = sim.exited.then((code) => {
      throw new Error(`pve-sim exited with ${code} before listening:\n${sim.output().slice(-2000)}`);
    });
    const read = () => existsSync(infoFile) && (JSON.parse(readFileSync(infoFile, 'utf8')) as SimulatorInfo);
    info = { ...(await Promise.race([waitFor('pve-sim info file', read), exitedEarly])), guestSshPort };
  } catch (error) {
    await sim.stop(2000);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    info,
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
