/**
 * The simulator for this package's tests: testkit's child-process simulator, plus a client config
 * for its deploy token and a way to switch faults.
 */
import { type SimulatorInfo, startSimulator } from '@glassdome/testkit';
import type { ProxmoxConfig } from '../src/index';

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
