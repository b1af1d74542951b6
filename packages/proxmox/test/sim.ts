/**
 * The simulator for this package's tests: testkit's child-process simulator, plus a client config
 * for its deploy token and a way to switch faults.
 */
import { after, before } from 'node:test';
import { type SimulatorInfo, startSimulator } from '@glassdome/testkit';
import { createProxmox, type Proxmox, type ProxmoxConfig } from '../src/index';

export type SimInfo = SimulatorInfo;

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
  /** The cluster's nodes, the first holding the template. @defaultValue the simulator's one node */
  nodes?: string[];
}

export interface RunningSim {
  info: SimInfo;
  /** A client config for the default deploy token; `overrides` win. */
  config(overrides?: Partial<ProxmoxConfig>): ProxmoxConfig;
  /** Merges faults (`rate500`, `failTasks`, `agentNeverUp`…) through the admin endpoint. */
  setFaults(faults: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

export async function startSim(options: SimOptions = {}): Promise<RunningSim> {
  const env: Record<string, string> = { PVE_SIM_ERROR_ENVELOPE: options.errorEnvelope ?? 'modern' };
  if (options.latencies) env.PVE_SIM_LATENCIES = JSON.stringify(options.latencies);
  if (options.faults) env.PVE_SIM_FAULTS = JSON.stringify(options.faults);
  if (options.nodes) env.PVE_SIM_NODES = options.nodes.join(',');
  const sim = await startSimulator({ tls: options.tls ?? false, timeScale: options.timeScale ?? 0.01, env });
  const { info } = sim;
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
    setFaults: async (faults) => {
      await sim.admin('POST', '/faults', faults);
    },
    stop: () => sim.stop(),
  };
}

/** A simulator and a client for its deploy token, started before the file's tests and stopped after. */
export function simAndClient(): { readonly sim: RunningSim; readonly pve: Proxmox } {
  let sim: RunningSim | undefined;
  let pve: Proxmox | undefined;
  before(async () => {
    sim = await startSim();
    pve = createProxmox(sim.config());
  });
  after(async () => {
    pve?.close();
    await sim?.stop();
  });
  return {
    get sim() {
      if (!sim) throw new Error('the simulator is not started yet (use it inside a test)');
      return sim;
    },
    get pve() {
      if (!pve) throw new Error('the client is not made yet (use it inside a test)');
      return pve;
    },
  };
}
