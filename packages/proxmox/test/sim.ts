/**
 * Starts the Proxmox simulator (apps/pve-sim) as a child process for one test file and reads what it
 * wrote to its info file. Packages must not import apps, so it is run, never imported.
 * (Candidate for @glassdome/testkit once other packages need it.)
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProcess, waitFor } from '@glassdome/testkit';
import type { ProxmoxConfig } from '../src/index';

export interface SimInfo {
  apiUrl: string;
  /** `AB:CD:…`; null over plain HTTP. */
  tlsFingerprint: string | null;
  /** PEM of the CA that signed the API certificate; null over plain HTTP. */
  caCert: string | null;
  rootPassword: string;
  tokenId: string;
  tokenSecret: string;
  node: string;
  storage: string;
  bridge: string;
  templateVmid: number;
  adminUrl: string;
}

export interface SimOptions {
  /** @defaultValue false */
  tls?: boolean;
  /** @defaultValue 0.01 */
  timeScale?: number;
  /** Latency overrides in ms at time scale 1. */
  latencies?: Record<string, number>;
  /** Faults active from the start. */
  faults?: Record<string, unknown>;
  /** @defaultValue 'modern' */
  errorEnvelope?: 'modern' | 'legacy';
}

export interface RunningSim {
  info: SimInfo;
  /** A client config for the default deploy token; `overrides` win. */
  config(overrides?: Partial<ProxmoxConfig>): ProxmoxConfig;
  /** Merges faults (`rate500`, `failTasks`, `agentNeverUp`…) through the admin endpoint. */
  setFaults(faults: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

const root = new URL('../../../', import.meta.url).pathname;

export async function startSim(options: SimOptions = {}): Promise<RunningSim> {
  const dir = mkdtempSync(join(tmpdir(), 'gd-pve-sim-'));
  const infoFile = join(dir, 'info.json');
  const adminSecret = randomBytes(16).toString('hex');
  const env: Record<string, string> = {
    PVE_SIM_PORT: '0',
    PVE_SIM_SSH_PORT: String(await freePort()),
    PVE_SIM_GUEST_SSH_PORT: String(await freePort()),
    PVE_SIM_TLS: options.tls ? '1' : '0',
    PVE_SIM_TIME_SCALE: String(options.timeScale ?? 0.01),
    PVE_SIM_INFO_FILE: infoFile,
    PVE_SIM_ADMIN_SECRET: adminSecret,
    PVE_SIM_ERROR_ENVELOPE: options.errorEnvelope ?? 'modern',
    LOG_LEVEL: 'warn',
  };
  if (options.latencies) env.PVE_SIM_LATENCIES = JSON.stringify(options.latencies);
  if (options.faults) env.PVE_SIM_FAULTS = JSON.stringify(options.faults);
  const sim = startProcess(process.execPath, ['--import', 'tsx', join(root, 'apps/pve-sim/src/main.ts')], {
    cwd: root,
    env,
    name: 'pve-sim',
  });
  let info: SimInfo;
  try {
    const exitedEarly = sim.exited.then((code) => {
      throw new Error(`pve-sim exited with ${code} before listening:\n${sim.output().slice(-2000)}`);
    });
    const listening = waitFor(
      'pve-sim info file',
      () => existsSync(infoFile) && (JSON.parse(readFileSync(infoFile, 'utf8')) as SimInfo),
    );
    info = await Promise.race([listening, exitedEarly]);
  } catch (error) {
    await sim.stop(2000);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    info,
    config: (overrides = {}) => ({
      baseUrl: info.apiUrl,
      node: info.node,
      auth: { tokenId: info.tokenId, tokenSecret: info.tokenSecret },
      ...(info.tlsFingerprint ? { tls: { fingerprint: info.tlsFingerprint } } : {}),
      retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 100 },
      polling: { initialMs: 10, maxMs: 50 },
      ...overrides,
    }),
    async setFaults(faults) {
      const response = await fetch(`${info.adminUrl.replace(/\/$/, '')}/faults`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${adminSecret}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(faults),
      });
      if (!response.ok) throw new Error(`setting faults failed: ${response.status} ${await response.text()}`);
    },
    async stop() {
      await sim.stop(5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
