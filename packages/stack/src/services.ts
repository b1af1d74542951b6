/**
 * Glassdome's processes — the API, installers, the gateway, the overseer — as children of the
 * caller, all with one environment: what `pnpm start` runs and what end-to-end tests run.
 */
import { type RunningProcess, startProcess } from './process';
import { type AppName, appArgs, type RunFrom, repoRoot } from './repo';

export interface ServicesOptions {
  /** Every process's environment on top of the caller's own: backing services, Proxmox, keys. */
  env: Record<string, string>;
  /** The API's port (API_PORT). */
  apiPort: number;
  /** @defaultValue 127.0.0.1 */
  apiHost?: string;
  /** @defaultValue 2 */
  installers?: number;
  /** @defaultValue true */
  gateway?: boolean;
  /** @defaultValue false */
  overseer?: boolean;
  /** Every line a process prints, with the process's name. */
  onLine?: (name: string, line: string) => void;
  /** How long each process may take to say it is ready. @defaultValue 60000 */
  readyTimeoutMs?: number;
  /** The compiled bundles or the TypeScript sources. @defaultValue runFrom() (GLASSDOME_RUN_FROM, else dist) */
  from?: RunFrom;
}

export interface RunningServices {
  /** `http://host:port`, without /api/v1. */
  apiUrl: string;
  api: RunningProcess;
  installers: RunningProcess[];
  gateway: RunningProcess | undefined;
  overseer: RunningProcess | undefined;
  /** Starts one more installer (e.g. to replace one a test killed). */
  addInstaller(): Promise<RunningProcess>;
  /** Every process started, in start order. */
  all(): RunningProcess[];
  /** SIGTERM to all at once; those still running after `graceMs` are killed. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Credentials only workers use: the API never receives them (it talks to Postgres and Redis, never to
 * Proxmox), so a compromise of the API process does not hand over the cluster.
 */
export const WORKER_ONLY_VARIABLES = ['PROXMOX_TOKEN_SECRET', 'PROXMOX_SSH_KEY_FILE'] as const;

export async function startServices(options: ServicesOptions): Promise<RunningServices> {
  const started: RunningProcess[] = [];
  const readyMs = options.readyTimeoutMs ?? 60_000;
  const host = options.apiHost ?? '127.0.0.1';
  const launch = (name: AppName, env: Record<string, string | undefined> = {}) => {
    const onLine = options.onLine;
    const child = startProcess(process.execPath, appArgs(name, options.from), {
      cwd: repoRoot,
      name,
      env: { ...options.env, ...env },
      ...(onLine ? { onLine: (line: string) => onLine(name, line) } : {}),
    });
    started.push(child);
    return child;
  };
  try {
    const withheld = Object.fromEntries(WORKER_ONLY_VARIABLES.map((name) => [name, undefined]));
    const api = launch('api', { ...withheld, API_PORT: String(options.apiPort), API_HOST: host });
    // The API migrates first, so workers starting after it find the schema in place.
    await api.waitForOutput('api listening', readyMs);
    const addInstaller = async () => {
      const installer = launch('installer');
      await installer.waitForOutput('installer ready', readyMs);
      return installer;
    };
    const installers = await Promise.all(Array.from({ length: options.installers ?? 2 }, addInstaller));
    let gateway: RunningProcess | undefined;
    if (options.gateway ?? true) {
      gateway = launch('gateway');
      await gateway.waitForOutput('gateway ready', readyMs);
    }
    let overseer: RunningProcess | undefined;
    if (options.overseer) {
      overseer = launch('overseer');
      await overseer.waitForOutput('overseer ready', readyMs);
    }
    return {
      apiUrl: `http://${host.includes(':') ? `[${host}]` : host}:${options.apiPort}`,
      api,
      installers,
      gateway,
      overseer,
      addInstaller,
      all: () => [...started],
      async stop(graceMs = 10_000) {
        await Promise.all(started.map((child) => child.stop(graceMs)));
      },
    };
  } catch (error) {
    await Promise.all(started.map((child) => child.stop(2_000)));
    throw error;
  }
}
