import { createLogger, type Logger } from '@glassdome/logger';
import type { Client } from 'ssh2';
import { openConnection } from './connection';
import { SshCommandError, SshConnectError, SshPoolClosedError } from './errors';
import { ChannelOpenError, type ExecOptions, type ExecResult, runCommand } from './exec';
import { HostConnections } from './host-connections';
import { quoteArgv, withEnv } from './quote';
import { sftpCalls, type TransferOptions, withSftp } from './sftp';
import { connectionKey, portOf, type SshTarget } from './target';
import { retryUntilDeadline, type WaitForSshOptions } from './wait';

/** Both signals in one (either aborts it), or whichever is set. */
function combineSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (a && b) return AbortSignal.any([a, b]);
  return a ?? b;
}

/** Options of an SshPool; every field is optional. */
export interface SshPoolOptions {
  /** Most connections kept open to one host (per user and key). @defaultValue 4 */
  maxConnectionsPerHost?: number;
  /** Most channels (commands, SFTP sessions) at once on one connection; OpenSSH allows 10 (MaxSessions). @defaultValue 8 */
  maxChannelsPerConnection?: number;
  /**
   * A connection with no open channel for this long is closed. Long enough that a guest's connection
   * from its `wait-ssh` step is still there for its post-configuration and for the lab's isolation
   * check minutes later: each new connection is a key exchange and a signature on both sides.
   * @defaultValue 180000
   */
  idleTimeoutMs?: number;
  /** Time allowed to connect, verify the host key and authenticate. @defaultValue 20000 */
  connectTimeoutMs?: number;
  /** SSH keepalive interval that detects dead peers (three missed answers close the connection). @defaultValue 15000 */
  keepaliveIntervalMs?: number;
  /** Where connection and command events are logged (debug level; never arguments or keys). @defaultValue a logger named "ssh" */
  logger?: Logger;
}

/** Options of runScript: those of exec, minus stdin (the script is the stdin). */
export interface RunScriptOptions extends Omit<ExecOptions, 'stdin'> {
  /** Program and arguments that read the script from stdin. @defaultValue ['bash', '-s'] */
  interpreter?: string[];
}

/**
 * Glassdome's SSH client: commands, scripts and SFTP over pooled, host-key-verified connections.
 * One pool per process; connections are shared per host and closed when idle.
 */
export class SshPool {
  private readonly hosts = new Map<string, HostConnections>();
  private readonly logger: Logger;
  private closed = false;
  /** Set on views made by withSignal: every call through the view honours it. */
  private readonly boundSignal: AbortSignal | undefined = undefined;

  constructor(private readonly options: SshPoolOptions = {}) {
    this.logger = options.logger ?? createLogger({ name: 'ssh' });
  }

  /**
   * This pool with every command, transfer and wait stopped by `signal` (a job's): a running command
   * is killed as at its timeout and the call rejects with the signal's reason. The view shares the
   * pool's connections; close only the pool itself.
   */
  withSignal(signal: AbortSignal): SshPool {
    const view = Object.create(this) as SshPool;
    Object.defineProperty(view, 'boundSignal', { value: combineSignals(this.boundSignal, signal) });
    return view;
  }

  private signalFor(signal: AbortSignal | undefined): AbortSignal | undefined {
    return combineSignals(this.boundSignal, signal);
  }

  /**
   * Runs argv on the host, each element quoted so that it arrives as one literal argument. Throws
   * SshCommandError on a non-zero exit unless `allowFailure` is set.
   */
  async exec(target: SshTarget, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const program = argv[0] ?? '';
    const command = quoteArgv(withEnv(argv, options.env));
    const context = { host: target.host, port: portOf(target), program };
    const started = Date.now();
    const signal = this.signalFor(options.signal);
    const result = await this.withClient(
      target,
      (client) => runCommand(client, command, context, { ...options, ...(signal ? { signal } : {}) }),
      signal,
    );
    this.logger.debug(
      { ...context, exitCode: result.exitCode, signal: result.signal, durationMs: Date.now() - started },
      'ssh command finished',
    );
    if (result.exitCode !== 0 && !options.allowFailure) {
      const { host, port } = context;
      throw new SshCommandError(host, port, program, result.exitCode, result.signal, result.stderr, result.stdout);
    }
    return result;
  }

  /** Sends `script` on the stdin of an interpreter (bash by default); nothing of it touches the command line. */
  runScript(target: SshTarget, script: string, options: RunScriptOptions = {}): Promise<ExecResult> {
    const { interpreter = ['bash', '-s'], ...execOptions } = options;
    return this.exec(target, interpreter, { ...execOptions, stdin: script });
  }

  /** Writes a local file (path) or a buffer to `remotePath` over SFTP and sets its mode. */
  upload(
    target: SshTarget,
    source: string | Buffer,
    remotePath: string,
    mode = 0o644,
    options: TransferOptions = {},
  ): Promise<void> {
    return this.withTransfer(target, remotePath, options, async (sftp) => {
      if (typeof source === 'string') await sftpCalls.fastPut(sftp, source, remotePath, mode);
      else await sftpCalls.writeFile(sftp, remotePath, source, mode);
      await sftpCalls.chmod(sftp, remotePath, mode);
    });
  }

  /** Reads `remotePath` over SFTP into memory. */
  download(target: SshTarget, remotePath: string, options: TransferOptions = {}): Promise<Buffer> {
    return this.withTransfer(target, remotePath, options, (sftp) => sftpCalls.readFile(sftp, remotePath));
  }

  /** Copies `remotePath` over SFTP into the local file `localPath`. */
  downloadTo(target: SshTarget, remotePath: string, localPath: string, options: TransferOptions = {}): Promise<void> {
    return this.withTransfer(target, remotePath, options, (sftp) => sftpCalls.fastGet(sftp, remotePath, localPath));
  }

  /**
   * Resolves once the host answers and accepts our key (the connection stays pooled for what follows).
   * Retries refused or timed-out connections and refused keys (a booting guest may not have them yet);
   * a host key mismatch or an unusable key fails at once. Throws SshTimeoutError at the deadline.
   */
  async waitForSsh(target: SshTarget, options: WaitForSshOptions = {}): Promise<void> {
    const signal = this.signalFor(options.signal);
    await retryUntilDeadline(target, { ...options, ...(signal ? { signal } : {}) }, async (attemptTimeoutMs) => {
      const host = this.hostFor(target);
      const connection = await host.acquire(attemptTimeoutMs);
      host.release(connection);
    });
  }

  /** Open connections and channels, over all hosts (for metrics and tests). */
  stats(): { hosts: number; connections: number; activeChannels: number; waiting: number } {
    const total = { hosts: this.hosts.size, connections: 0, activeChannels: 0, waiting: 0 };
    for (const host of this.hosts.values()) {
      const stats = host.stats();
      total.connections += stats.connections;
      total.activeChannels += stats.activeChannels;
      total.waiting += stats.waiting;
    }
    return total;
  }

  /** Closes every connection; calls made afterwards fail with SshPoolClosedError. */
  close(): void {
    this.closed = true;
    for (const host of this.hosts.values()) host.closeAll();
    this.hosts.clear();
  }

  private withTransfer<T>(
    target: SshTarget,
    remotePath: string,
    options: TransferOptions,
    work: Parameters<typeof withSftp<T>>[3],
  ): Promise<T> {
    const context = { host: target.host, port: portOf(target), remotePath };
    const signal = this.signalFor(options.signal);
    const withSignal = { ...options, ...(signal ? { signal } : {}) };
    return this.withClient(target, (client) => withSftp(client, context, withSignal, work), signal);
  }

  /**
   * Lends a pooled connection to `use`. A connection that died unnoticed shows only when a channel
   * fails to open; nothing ran then, so one more try is safe. The failed connection is closed only when
   * no other channel uses it: a live connection may refuse a channel (server session limit) while
   * carrying other commands.
   */
  private async withClient<T>(
    target: SshTarget,
    use: (client: Client) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const host = this.hostFor(target);
      const connection = await host.acquire();
      try {
        signal?.throwIfAborted();
        return await use(connection.client);
      } catch (error) {
        if (!(error instanceof ChannelOpenError)) throw error;
        if (connection.active === 1) host.discard(connection);
        if (attempt > 1)
          throw new SshConnectError(target.host, portOf(target), `cannot open a channel: ${error.message}`);
        this.logger.debug({ host: target.host, port: portOf(target) }, 'ssh channel open failed; trying again');
      } finally {
        host.release(connection);
      }
    }
  }

  private hostFor(target: SshTarget): HostConnections {
    if (this.closed) throw new SshPoolClosedError();
    const key = connectionKey(target);
    let host = this.hosts.get(key);
    if (!host) {
      const created = new HostConnections(
        {
          maxConnections: this.options.maxConnectionsPerHost ?? 4,
          maxChannelsPerConnection: this.options.maxChannelsPerConnection ?? 8,
          idleTimeoutMs: this.options.idleTimeoutMs ?? 180_000,
        },
        (connectTimeoutMs) => this.connect(target, connectTimeoutMs),
        () => this.hosts.get(key) === created && this.hosts.delete(key),
      );
      host = created;
      this.hosts.set(key, host);
    }
    return host;
  }

  private async connect(target: SshTarget, connectTimeoutMs?: number): Promise<Client> {
    const context = { host: target.host, port: portOf(target), username: target.username };
    const client = await openConnection(target, {
      connectTimeoutMs: connectTimeoutMs ?? this.options.connectTimeoutMs ?? 20_000,
      keepaliveIntervalMs: this.options.keepaliveIntervalMs ?? 15_000,
    });
    this.logger.debug(context, 'ssh connected');
    client.once('close', () => this.logger.debug(context, 'ssh connection closed'));
    return client;
  }
}
