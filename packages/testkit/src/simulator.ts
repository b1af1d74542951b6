/**
 * The Proxmox simulator for one test file: the product's launcher (`@glassdome/stack`) on free
 * ports, a fast time scale and plain HTTP unless asked, with an admin secret of its own.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type LocalSimulator, repoRoot, startSimulator as startLocalSimulator } from '@glassdome/stack';

export type TestSimulator = LocalSimulator;

export function startSimulator(
  options: { timeScale?: number; tls?: boolean; env?: Record<string, string> } = {},
): Promise<TestSimulator> {
  return startLocalSimulator({
    timeScale: options.timeScale ?? 0.01,
    tls: options.tls ?? false,
    env: {
      PVE_SIM_ADMIN_SECRET: randomBytes(16).toString('hex'),
      LOG_LEVEL: 'warn',
      // BENCH_CPU_PROF=<dir>: the simulator writes a V8 CPU profile there too, as the benches' stack processes do.
      ...(process.env.BENCH_CPU_PROF ? { NODE_OPTIONS: `--import ${join(repoRoot, 'bench/cpu-profile.mjs')}` } : {}),
      ...options.env,
    },
  });
}
