import type { Client } from 'ssh2';
import { SshPoolClosedError } from './errors';

/** Bounds of one host's connections; see SshPoolOptions for their meaning and defaults. */
export interface HostLimits {
  maxConnections: number;
  maxChannelsPerConnection: number;
  idleTimeoutMs: number;
}

export interface PooledConnection {
  readonly client: Client;
  /** Channels (commands, SFTP sessions) currently open on it. */
  active: number;
  closed: boolean;
  idleTimer?: NodeJS.Timeout;
}

/**
 * The connections of one host (one target identity): at most `maxConnections`, each carrying at most
 * `maxChannelsPerConnection` channels at once; callers beyond that wait in line. A connection with no
 * channel for `idleTimeoutMs` is closed, and one that drops is forgotten, so the next caller reconnects.
 */
export class HostConnections {
  private readonly connections = new Set<PooledConnection>();
  private opening = 0;
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly limits: HostLimits,
    private readonly open: (connectTimeoutMs?: number) => Promise<Client>,
    /** Called when this host holds nothing any more, so the pool can forget it. */
    private readonly onEmpty: () => void,
  ) {}

  /** A connection with a free channel slot, reserved for the caller until release(). */
  async acquire(connectTimeoutMs?: number): Promise<PooledConnection> {
    for (;;) {
      if (this.closed) throw new SshPoolClosedError();
      const reusable = this.leastBusy();
      if (reusable) return this.lend(reusable);
      if (!this.openingHasRoom() && this.connections.size + this.opening < this.limits.maxConnections) {
        return this.openAndLend(connectTimeoutMs);
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  release(connection: PooledConnection): void {
    connection.active -= 1;
    if (!connection.closed && connection.active === 0) {
      connection.idleTimer = setTimeout(() => connection.client.end(), this.limits.idleTimeoutMs);
      connection.idleTimer.unref();
    }
    this.wakeWaiters();
  }

  /** Stops using a connection that proved broken; callers still holding it release it as usual. */
  discard(connection: PooledConnection): void {
    this.forget(connection);
    connection.client.end();
  }

  closeAll(): void {
    this.closed = true;
    for (const connection of [...this.connections]) this.discard(connection);
    this.wakeWaiters();
  }

  stats(): { connections: number; activeChannels: number; waiting: number } {
    let activeChannels = 0;
    for (const connection of this.connections) activeChannels += connection.active;
    return { connections: this.connections.size, activeChannels, waiting: this.waiters.length };
  }

  /**
   * Whether the connections being opened will have a channel for one more caller beyond those already
   * waiting: then the caller waits for them rather than open one more. Callers that come together to a
   * host not connected yet (a job's probes side by side) share one handshake — a key exchange and a
   * signature on both sides each — instead of making one each. Should that open fail, the waiters are
   * woken and try their own.
   */
  private openingHasRoom(): boolean {
    return this.waiters.length < this.opening * (this.limits.maxChannelsPerConnection - 1);
  }

  private leastBusy(): PooledConnection | undefined {
    let best: PooledConnection | undefined;
    for (const connection of this.connections) {
      if (connection.active >= this.limits.maxChannelsPerConnection) continue;
      if (!best || connection.active < best.active) best = connection;
    }
    return best;
  }

  private lend(connection: PooledConnection): PooledConnection {
    connection.active += 1;
    clearTimeout(connection.idleTimer);
    return connection;
  }

  private async openAndLend(connectTimeoutMs?: number): Promise<PooledConnection> {
    this.opening += 1;
    let client: Client;
    try {
      client = await this.open(connectTimeoutMs);
    } catch (error) {
      this.opening -= 1;
      // A waiter may try its own connection; with none, an unreachable host is not kept in the pool.
      this.wakeWaitersOrReportEmpty();
      throw error;
    }
    this.opening -= 1;
    this.wakeWaiters();
    const connection: PooledConnection = { client, active: 0, closed: false };
    client.on('close', () => this.forget(connection));
    if (this.closed) {
      client.end();
      throw new SshPoolClosedError();
    }
    this.connections.add(connection);
    return this.lend(connection);
  }

  private forget(connection: PooledConnection): void {
    connection.closed = true;
    clearTimeout(connection.idleTimer);
    if (this.connections.delete(connection)) this.wakeWaitersOrReportEmpty();
  }

  private wakeWaitersOrReportEmpty(): void {
    const unused = this.connections.size === 0 && this.opening === 0 && this.waiters.length === 0;
    this.wakeWaiters();
    if (unused) this.onEmpty();
  }

  private wakeWaiters(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }
}
