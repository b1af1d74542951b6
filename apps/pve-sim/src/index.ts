/**
 * Programmatic entry: start a simulator in this process (HTTP(S) API + admin endpoint, plus any
 * extensions such as the SSH side). Other packages must not import apps, so their tests start
 * `tsx apps/pve-sim/src/main.ts` as a child with PVE_SIM_INFO_FILE instead.
 */
import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SimulatorApiInfo, SimulatorSshInfo } from '@glassdome/config';
import { createApiServer } from './http';
import type { SimulatorInput } from './options';
import { loadSnapshot, saveSnapshot } from './persist';
import { Simulator } from './sim';
import { defaultBridge, defaultStorage, deployTokenName, deployUser, templateVmid } from './state/defaults';
import { createApiCertificate } from './tls';

export type { SimulatorInfo } from '@glassdome/config';
export type { Faults } from './faults';
export type { GuestView } from './guests';
export type { Latencies, SimulatorOptions } from './options';
export type { ApiRequest, ApiResult } from './sim';
export { Simulator } from './sim';

/**
 * What a running simulator reports (declared once, in @glassdome/config): the API side, plus what
 * extensions add (the SSH side). The info file holds it whole, since `pnpm sim` starts the SSH side.
 */
export type RunningInfo = SimulatorApiInfo & Partial<SimulatorSshInfo>;

/** Something started alongside the API (the SSH side); it may add fields to the info. */
export type SimulatorExtension = (context: {
  sim: Simulator;
  options: StartOptions;
  info: RunningInfo;
}) => Promise<{ info?: Partial<SimulatorSshInfo>; stop(): Promise<void> }>;

export interface StartOptions extends SimulatorInput {
  /** API port; 0 picks a free one. @defaultValue 8006 */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** HTTPS only (true) or plain HTTP (false). @defaultValue true */
  tls?: boolean;
  /** Port for the SSH side, passed to extensions. @defaultValue 2222 */
  sshPort?: number;
  /** Port guests' SSH listens on, passed to extensions. @defaultValue 22 */
  guestSshPort?: number;
  /** Bearer secret of /_sim. @defaultValue the root password */
  adminSecret?: string;
  /** Snapshot file loaded at start if present, saved on stop and by /_sim/save. */
  stateFile?: string;
  /** Where to write the info (SimulatorInfo JSON) once listening. */
  infoFile?: string;
  /** Faults active from the start (shape of POST /_sim/faults). */
  faults?: unknown;
  /** Started after the API listens, stopped before it closes. @defaultValue [] */
  extensions?: SimulatorExtension[];
}

export type RunningSimulator = RunningInfo & {
  sim: Simulator;
  server: Server;
  info: RunningInfo;
  /** Stops extensions and the server, saves the state file if configured, cancels every timer. */
  stop(): Promise<void>;
};

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Starts each extension in turn, merging what it reports into `info`; returns their stop functions. */
async function startExtensions(sim: Simulator, options: StartOptions, info: RunningInfo) {
  const stoppers: Array<() => Promise<void>> = [];
  for (const extension of options.extensions ?? []) {
    const started = await extension({ sim, options, info });
    Object.assign(info, started.info);
    stoppers.push(() => started.stop());
  }
  return stoppers;
}

/** Written whole and renamed into place, since readers poll for the file to appear. */
async function writeInfoFile(file: string, info: RunningInfo): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  await writeFile(temp, JSON.stringify(info, null, 2), { mode: 0o600 });
  await rename(temp, file);
}

export async function startSimulator(options: StartOptions = {}): Promise<RunningSimulator> {
  const sim = new Simulator(options);
  if (options.stateFile && existsSync(options.stateFile)) await loadSnapshot(sim, options.stateFile);
  if (options.faults) sim.setFaults(options.faults);
  const host = options.host ?? '127.0.0.1';
  const node = sim.options.nodes[0]!;
  const certificate = options.tls === false ? undefined : await createApiCertificate(node, host);
  sim.tlsFingerprint = certificate?.fingerprint ?? '';
  const adminSecret = options.adminSecret ?? sim.options.rootPassword;
  const server = createApiServer(sim, {
    ...(certificate ? { tls: certificate } : {}),
    admin: { sim, secret: adminSecret, ...(options.stateFile ? { stateFile: options.stateFile } : {}) },
  });
  const port = await listen(server, options.port ?? 8006, host);
  const base = `${certificate ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const info: RunningInfo = {
    apiUrl: base,
    tlsFingerprint: certificate?.fingerprint ?? null,
    caCert: certificate?.caCert ?? null,
    tokenId: `${deployUser}!${deployTokenName}`,
    tokenSecret: sim.options.tokenSecret,
    rootPassword: sim.options.rootPassword,
    node,
    storage: defaultStorage,
    bridge: defaultBridge,
    templateVmid,
    adminUrl: `${base}/_sim`,
    adminSecret,
    firewallUpdateMs: sim.clock.ms('firewallUpdate'),
  };
  const stoppers = await startExtensions(sim, options, info);
  if (options.infoFile) await writeInfoFile(options.infoFile, info);
  let stopped = false;
  return {
    ...info,
    info,
    sim,
    server,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const stopExtension of stoppers.reverse()) await stopExtension();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (options.stateFile) await saveSnapshot(sim, options.stateFile);
      sim.stop();
    },
  };
}
