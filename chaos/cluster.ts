/**
 * One chaos run's whole world, all its own: a Redis and a Postgres it can stop, kill and wipe, the
 * Proxmox simulator (its state in a file, so it survives a restart on the same ports), and
 * Glassdome's processes — the API, installers, the gateway and the overseer — each of which a
 * scenario can kill -9, stop or start again. Everything listens on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db } from '../packages/db/src/index';
import {
  freePort,
  type LocalSimulator,
  type RunningProcess,
  repoRoot,
  simulatorEnv,
  startProcess,
  startSimulator,
  tsxArgs,
} from '../packages/stack/src/index';
import { type PrivatePostgres, type PrivateRedis, startPostgres, startRedis } from './backing';

export interface ClusterOptions {
  /** Names the run's database, Redis prefix and temporary directory. */
  label: string;
  /** @defaultValue 2 */
  installers?: number;
  /** @defaultValue true */
  overseer?: boolean;
  /** Glassdome variables on top of the chaos defaults. */
  env?: Record<string, string>;
  /** Simulator variables (PVE_SIM_LATENCIES, PVE_SIM_FAULTS…). */
  simEnv?: Record<string, string>;
  /** @defaultValue 0.01 */
  timeScale?: number;
}

type Role = 'api' | 'installer' | 'gateway' | 'overseer';

const ENTRY: Record<Role, string> = {
  api: 'apps/api/src/main.ts',
  installer: 'apps/installer/src/main.ts',
  gateway: 'apps/gateway/src/main.ts',
  overseer: 'apps/overseer/src/main.ts',
};
const READY: Record<Role, string> = {
  api: 'api listening',
  installer: 'installer ready',
  gateway: 'gateway ready',
  overseer: 'overseer ready',
};

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
  ms: number;
}

export class ChaosCluster {
  /** Clusters not stopped yet: what an interrupted run must still stop. */
  static readonly running = new Set<ChaosCluster>();
  readonly db: Db;
  readonly processes: {
    api?: RunningProcess;
    installers: RunningProcess[];
    gateway?: RunningProcess;
    overseer?: RunningProcess;
  } = { installers: [] };
  #started = 0;
  /** Every process launched, so a stop also ends those a failed start never handed out. */
  readonly #launched: RunningProcess[] = [];

  private constructor(
    readonly options: ClusterOptions,
    readonly dir: string,
    readonly redis: PrivateRedis,
    readonly postgres: PrivatePostgres,
    readonly databaseUrl: string,
    readonly prefix: string,
    public sim: LocalSimulator,
    readonly simOptions: Parameters<typeof startSimulator>[0],
    readonly apiPort: number,
    readonly adminKey: string,
    readonly env: Record<string, string>,
  ) {
    this.db = createDb(databaseUrl, { maxConnections: 4 });
    ChaosCluster.running.add(this);
  }

  static async start(options: ClusterOptions): Promise<ChaosCluster> {
    const dir = mkdtempSync(join(tmpdir(), `gd-chaos-${options.label}-`));
    mkdirSync(join(dir, 'logs'));
    const cleanups: Array<() => Promise<unknown> | unknown> = [() => rmSync(dir, { recursive: true, force: true })];
    try {
      const redis = await startRedis(dir);
      cleanups.push(() => redis.kill());
      const postgres = await startPostgres(dir);
      cleanups.push(() => postgres.kill().catch(() => {}));
      const databaseUrl = await postgres.createDatabase('glassdome');
      const simDir = join(dir, 'sim');
      const simOptions = {
        tls: false,
        timeScale: options.timeScale ?? 0.01,
        port: await freePort(),
        sshPort: await freePort(),
        guestSshPort: await freePort(),
        dir: simDir,
        env: {
          // Fixed secrets and a state file: a restarted simulator is the same cluster.
          PVE_SIM_STATE_FILE: join(simDir, 'state.json'),
          PVE_SIM_ADMIN_SECRET: randomBytes(16).toString('hex'),
          PVE_SIM_TOKEN_SECRET: randomBytes(16).toString('hex'),
          PVE_SIM_ROOT_PASSWORD: randomBytes(12).toString('hex'),
          LOG_LEVEL: 'warn',
          ...options.simEnv,
        },
        onLine: (line: string) => appendFileSync(join(dir, 'logs', 'pve-sim.log'), `${line}\n`),
      };
      const sim = await startSimulator(simOptions);
      cleanups.push(() => sim.process.kill());
      const guestKeyFile = join(dir, 'guest_key');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'glassdome', '-f', guestKeyFile]);
      const adminKey = `gd_admin_${randomBytes(18).toString('hex')}`;
      const prefix = `{gdchaos-${options.label}-${randomBytes(3).toString('hex')}}`;
      const apiPort = await freePort();
      const env: Record<string, string> = {
        DATABASE_URL: databaseUrl,
        REDIS_URL: redis.url,
        QUEUE_PREFIX: prefix,
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'json',
        ...simulatorEnv(sim.info),
        GLASSDOME_ADMIN_KEY: adminKey,
        GUEST_SSH_KEY_FILE: guestKeyFile,
        TEMPLATE_VMIDS: `ubuntu-22.04=${sim.info.templateVmid}`,
        API_PORT: String(apiPort),
        API_HOST: '127.0.0.1',
        API_RATE_LIMIT: '1000000',
        WORKER_SHUTDOWN_SECONDS: '5',
        WORKER_LOCK_SECONDS: '5',
        SSH_TIMEOUT_SECONDS: '20',
        AGENT_TIMEOUT_SECONDS: '20',
        OVERSEER_SCAN_SECONDS: '5',
        OVERSEER_SSH_PROBE: '0',
        OVERSEER_REDRIVE_SECONDS: '3',
        OVERSEER_REDRIVE_GRACE_SECONDS: '20',
        ...options.env,
      };
      const cluster = new ChaosCluster(
        options,
        dir,
        redis,
        postgres,
        databaseUrl,
        prefix,
        sim,
        simOptions,
        apiPort,
        adminKey,
        env,
      );
      try {
        await cluster.startGlassdome();
      } catch (error) {
        await cluster.stop();
        throw error;
      }
      return cluster;
    } catch (error) {
      for (const cleanup of cleanups.reverse()) await cleanup();
      throw error;
    }
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  /** Starts one Glassdome process and waits for its ready line. */
  async launch(role: Role, readyMs = 90_000): Promise<RunningProcess> {
    const name = `${role}-${++this.#started}`;
    const log = join(this.dir, 'logs', `${name}.log`);
    const child = startProcess(process.execPath, tsxArgs(ENTRY[role]), {
      cwd: repoRoot,
      name,
      env: this.env,
      onLine: (line) => appendFileSync(log, `${line}\n`),
    });
    this.#launched.push(child);
    await child.waitForOutput(READY[role], readyMs);
    return child;
  }

  /** The API first (it migrates), then the workers, as `pnpm start` does. */
  async startGlassdome(): Promise<void> {
    this.processes.api = await this.launch('api');
    const workers = [
      ...Array.from({ length: this.options.installers ?? 2 }, () => this.launch('installer')),
      this.launch('gateway'),
      ...(this.options.overseer === false ? [] : [this.launch('overseer')]),
    ];
    const started = await Promise.all(workers);
    const installers = this.options.installers ?? 2;
    this.processes.installers = started.slice(0, installers);
    this.processes.gateway = started[installers];
    this.processes.overseer = this.options.overseer === false ? undefined : started[installers + 1];
  }

  /** SIGTERM to every Glassdome process at once (workers hand their jobs back), then waits for them. */
  async stopGlassdome(graceMs = 15_000): Promise<void> {
    const all = [this.processes.api, ...this.processes.installers, this.processes.gateway, this.processes.overseer];
    await Promise.all(all.map((child) => child?.stop(graceMs)));
    this.processes.installers = [];
  }

  async addInstaller(): Promise<RunningProcess> {
    const installer = await this.launch('installer');
    this.processes.installers.push(installer);
    return installer;
  }

  /** kill -9 of every installer, then as many fresh ones. */
  async crashInstallers(): Promise<void> {
    const victims = this.processes.installers;
    await Promise.all(victims.map((child) => child.kill()));
    this.processes.installers = [];
    await Promise.all(victims.map(() => this.addInstaller()));
  }

  /** kill -9 of the gateway, then a fresh one. */
  async crashGateway(): Promise<void> {
    await this.processes.gateway?.kill();
    this.processes.gateway = await this.launch('gateway');
  }

  /** The simulator SIGTERMed (it saves its state) and started again on the same ports and secrets. */
  async restartSimulator(): Promise<void> {
    await this.sim.process.stop(10_000);
    this.sim = await startSimulator(this.simOptions);
  }

  /** Calls the simulator's admin endpoint (`/_sim/...`). */
  simAdmin(method: string, path: string, body?: unknown): Promise<unknown> {
    return this.sim.admin(method, path, body);
  }

  /** One API call with the admin key; a call that gets no answer within `timeoutMs` is status 0. */
  async api(method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<ApiAnswer> {
    const started = performance.now();
    try {
      const response = await fetch(`${this.apiUrl}${path}`, {
        method,
        headers: { Authorization: `Bearer ${this.adminKey}`, 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = text ? JSON.parse(text) : {};
      } catch {
        parsed = { text };
      }
      return { status: response.status, body: parsed, ms: performance.now() - started };
    } catch (error) {
      return { status: 0, body: { error: String(error) }, ms: performance.now() - started };
    }
  }

  /** Stops everything it started; the temporary directory (logs included) goes unless CHAOS_KEEP=1. */
  async stop(): Promise<void> {
    ChaosCluster.running.delete(this);
    await Promise.all(this.#launched.map((child) => child.kill()));
    await this.db.destroy().catch(() => {});
    await this.sim.process.kill();
    await this.redis.kill();
    await this.postgres.kill().catch(() => {});
    if (process.env.CHAOS_KEEP !== '1') rmSync(this.dir, { recursive: true, force: true });
  }
}
