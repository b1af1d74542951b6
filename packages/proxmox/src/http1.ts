/**
 * The HTTP/1.1 exchanges of a ProxmoxClient, on keep-alive connections of its own. node:http makes a
 * writable stream of every request and a readable one of every answer, with an agent, a parser and
 * half a dozen listeners in between: about 50 µs of CPU per call on the machines we measure on,
 * against 25 µs for the same exchange written and read here (one write of the whole request, the
 * answer read from the socket's data as it comes). PVE's API needs little of HTTP: one request at a
 * time per connection, answers framed by Content-Length (chunked ones are read too), `Connection:
 * close` honoured, no redirects, no compression, no 100-continue.
 *
 * Connections come from the trust agent of tls.ts (`createConnection`, as node's own agent calls it),
 * so TLS is checked exactly as before: with a pinned fingerprint, the socket is handed over only once
 * the peer's certificate matched, so nothing is written to an unverified server. Idle connections
 * are reused last-in first-out and dropped after `idleMs` without traffic (below pveproxy's 5 s, so a
 * request is never written to a connection the server is closing for idleness), and do not keep the
 * process alive.
 */
import type { Agent } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** An HTTP answer, its body as text. */
export interface HttpAnswer {
  status: number;
  statusText: string;
  body: string;
}

/**
 * What an exchange that got no whole answer failed with; `reusedSocket` when it went out on a
 * connection that had served an answer before and nothing of its own answer came back (a kept-alive
 * connection the server closed: the request never reached it); `exchange` when it timed out.
 */
export type NetworkFailure = Error & { code?: string; reusedSocket?: boolean; exchange?: ExchangeState };

/**
 * Where an exchange stood when it timed out: what tells a server that never answered from a
 * connection that never came, or an answer cut off midway.
 */
export interface ExchangeState {
  /**
   * `connecting`: no connection yet, or its TCP or TLS handshake not done (an agent may hand over a
   * socket before its handshake, the request then waiting in it); `sent`: the request written, no
   * byte of the answer back; `answering`: part of the answer came, not the rest.
   */
  phase: 'connecting' | 'sent' | 'answering';
  /** From the exchange's start to its timeout firing, event-loop delays included. */
  elapsedMs: number;
  /** How long getting the connection took (a new one: its handshakes). */
  connectMs?: number;
  /** A kept-alive connection taken again (after `answersBefore` answers, idle `idleMs`), or a new one. */
  reused?: boolean;
  answersBefore?: number;
  idleMs?: number;
  /** Bytes of the answer that came. */
  answerBytes?: number;
  /** The connection's bytes over its life, and its local port (to find it in the server's logs). */
  bytesWritten?: number;
  bytesRead?: number;
  localPort?: number;
  /** The socket's state (`open`, `readOnly`, `writeOnly`, `closed`...), and whether it was destroyed. */
  readyState?: string;
  /** A TLS connection's negotiated version, or `handshaking` while its handshake has not ended. */
  tls?: string;
  destroyed?: boolean;
  /** The pool's connections then: open in all, and idle. */
  open: number;
  idle: number;
}

/** What a request path may not hold: anything but printable ASCII (no request splitting, no encoding to pick). */
const unsafePath = /[^\u0021-\u007e]/;
/** A header block larger than this is no API answer. */
const MAX_HEAD_BYTES = 64 * 1024;

function failure(message: string, code: string): NetworkFailure {
  return Object.assign(new Error(message), { code });
}

type Reading = 'head' | 'fixed' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer' | 'to-close';

/** One connection: at most one exchange at a time, its answer parsed as the bytes come. */
class Connection {
  readonly socket: Socket;
  /** Answers read whole on this connection: a connection with one or more is a reused one. */
  answers = 0;
  /** When it went back to the pool (performance.now()); undefined while an exchange has it. */
  idleSince: number | undefined;
  /** Bytes of the current answer have arrived: from then on the request was certainly delivered. */
  answering = false;
  /** Bytes of the current answer so far. */
  answerBytes = 0;
  #done: ((error: NetworkFailure | undefined, answer?: HttpAnswer) => void) | undefined;
  #error: NetworkFailure | undefined;
  #reading: Reading = 'head';
  #pending: Buffer = Buffer.alloc(0);
  #body: Buffer[] = [];
  #left = 0;
  #status = 0;
  #statusText = '';
  #keepAlive = true;

  constructor(
    socket: Socket,
    private readonly pool: Http1Pool,
  ) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', (error: NetworkFailure) => {
      this.#error ??= error;
    });
    socket.on('close', () => this.#closed());
  }

  /** Writes a whole request; `done` gets its answer or what it failed with. */
  send(request: string, done: (error: NetworkFailure | undefined, answer?: HttpAnswer) => void): void {
    this.idleSince = undefined;
    this.answering = false;
    this.answerBytes = 0;
    this.#done = done;
    this.#reading = 'head';
    this.socket.write(request);
  }

  destroy(): void {
    this.#done = undefined;
    this.socket.destroy();
  }

  #read(chunk: Buffer): void {
    if (!this.#done) {
      // Bytes nobody asked for: the connection can no longer be trusted to frame answers.
      this.socket.destroy();
      return;
    }
    this.answering = true;
    this.answerBytes += chunk.length;
    let bytes = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    for (;;) {
      switch (this.#reading) {
        case 'head': {
          const end = bytes.indexOf('\r\n\r\n', 0, 'latin1');
          if (end < 0) {
            if (bytes.length > MAX_HEAD_BYTES) {
              this.#fail(failure('answer head too large', 'HPE_HEADER_OVERFLOW'));
              return;
            }
            this.#pending = bytes;
            return;
          }
          const complete = this.#head(bytes.toString('latin1', 0, end));
          bytes = bytes.subarray(end + 4);
          if (complete === undefined) {
            this.#fail(failure('malformed answer head', 'HPE_INVALID_CONSTANT'));
            return;
          }
          if (complete) {
            this.#finish(bytes);
            return;
          }
          break;
        }
        case 'fixed':
        case 'chunk-data': {
          const take = Math.min(this.#left, bytes.length);
          if (take > 0) this.#body.push(bytes.subarray(0, take));
          this.#left -= take;
          bytes = bytes.subarray(take);
          if (this.#left > 0) {
            this.#pending = Buffer.alloc(0);
            return;
          }
          if (this.#reading === 'fixed') {
            this.#finish(bytes);
            return;
          }
          this.#reading = 'chunk-end';
          break;
        }
        case 'chunk-end':
        case 'chunk-size':
        case 'trailer': {
          const end = bytes.indexOf('\r\n', 0, 'latin1');
          if (end < 0) {
            this.#pending = bytes;
            return;
          }
          const line = bytes.toString('latin1', 0, end);
          bytes = bytes.subarray(end + 2);
          if (this.#reading === 'chunk-end') {
            if (line !== '') {
              this.#fail(failure('malformed chunk', 'HPE_INVALID_CHUNK_SIZE'));
              return;
            }
            this.#reading = 'chunk-size';
          } else if (this.#reading === 'chunk-size') {
            const size = /^([0-9a-fA-F]{1,8})(?:[\t ;].*)?$/.exec(line);
            if (!size) {
              this.#fail(failure('malformed chunk size', 'HPE_INVALID_CHUNK_SIZE'));
              return;
            }
            this.#left = Number.parseInt(size[1]!, 16);
            this.#reading = this.#left === 0 ? 'trailer' : 'chunk-data';
          } else if (line === '') {
            this.#finish(bytes);
            return;
          }
          break;
        }
        case 'to-close':
          if (bytes.length > 0) this.#body.push(bytes);
          this.#pending = Buffer.alloc(0);
          return;
      }
    }
  }

  /**
   * Takes in an answer's head: true when the answer has no body, false when its body follows,
   * undefined when the head is not HTTP/1.x. An interim answer (1xx) is passed over.
   */
  #head(head: string): boolean | undefined {
    const lineEnd = head.indexOf('\r\n');
    const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lineEnd < 0 ? head : head.slice(0, lineEnd));
    if (!statusLine) return undefined;
    const status = Number(statusLine[2]);
    if (status < 200) {
      this.#reading = 'head';
      return false;
    }
    let length: number | undefined;
    let chunked = false;
    let connection = '';
    for (const line of lineEnd < 0 ? [] : head.slice(lineEnd + 2).split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value) || (length !== undefined && length !== Number(value))) return undefined;
        length = Number(value);
      } else if (name === 'transfer-encoding') chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      else if (name === 'connection') connection += `,${value.toLowerCase()}`;
    }
    this.#status = status;
    this.#statusText = statusLine[3] ?? '';
    this.#body = [];
    this.#keepAlive =
      statusLine[1] === '1' ? !/(?:^|,)\s*close\s*(?:,|$)/.test(connection) : /keep-alive/.test(connection);
    if (status === 204 || status === 304) return true;
    if (chunked) {
      this.#reading = 'chunk-size';
      return false;
    }
    if (length !== undefined) {
      this.#left = length;
      this.#reading = 'fixed';
      return length === 0;
    }
    // No framing: the body lasts until the server closes.
    this.#keepAlive = false;
    this.#reading = 'to-close';
    return false;
  }

  /** The answer is whole; `rest` is what came after it (nothing, from a server that waits its turn). */
  #finish(rest: Buffer): void {
    const done = this.#done!;
    this.#done = undefined;
    this.#pending = Buffer.alloc(0);
    this.answers++;
    const body = this.#body.length === 1 ? this.#body[0]! : Buffer.concat(this.#body);
    this.#body = [];
    if (this.#keepAlive && rest.length === 0) this.pool.release(this);
    else this.socket.destroy();
    done(undefined, { status: this.#status, statusText: this.#statusText, body: body.toString('utf8') });
  }

  #fail(error: NetworkFailure): void {
    const done = this.#done;
    this.#done = undefined;
    this.socket.destroy();
    done?.(error);
  }

  #closed(): void {
    this.pool.forget(this);
    if (!this.#done) return;
    if (this.#reading === 'to-close' && !this.#error) {
      this.#finish(Buffer.alloc(0));
      return;
    }
    this.#fail(
      this.#error ??
        (this.answering
          ? failure('the answer was cut short', 'ECONNRESET')
          : failure('socket hang up: the connection closed before any answer', 'ECONNRESET')),
    );
  }
}

/** Keep-alive connections to one server, made by a trust agent (tls.ts), and the exchanges on them. */
export class Http1Pool {
  readonly #agent: Agent;
  readonly #connectOptions: Record<string, unknown>;
  readonly #idleMs: number;
  /** Idle connections, the most recently used last. */
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();

  constructor(agent: Agent, target: { hostname: string; port: number }, idleMs: number) {
    this.#agent = agent;
    this.#idleMs = idleMs;
    // What node's agent hands its createConnection: its own options, the server, TCP keep-alive probes
    // on the pooled connections and, for https, the SNI name (none for an IP address) and the key its
    // TLS sessions are cached under.
    const options = {
      ...(agent as Agent & { options: Record<string, unknown> }).options,
      host: target.hostname,
      port: target.port,
      servername: isIP(target.hostname) ? '' : target.hostname,
      keepAlive: true,
      keepAliveInitialDelay: 60_000,
      noDelay: true,
    };
    this.#connectOptions = { ...options, _agentKey: agent.getName(options) };
  }

  /**
   * Sends `request` (the request line, headers and body, as they go on the wire) and reads its
   * answer. Rejects with the connection's error, ETIMEDOUT after `timeoutMs` for the whole exchange,
   * or `aborted` when `cancel` is called; the connection is then closed.
   */
  exchange(request: string, timeoutMs: number, watch?: (cancel: () => void) => () => void): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const started = performance.now();
      let settled = false;
      let connection: Connection | undefined;
      // For a timeout's report: when the connection came, the answers it had served, how long it was idle.
      let connectMs = 0;
      let answersBefore = 0;
      let idleFor: number | undefined;
      let unwatch: (() => void) | undefined;
      const finish = (error: NetworkFailure | undefined, answer?: HttpAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unwatch?.();
        if (error) {
          // Only a reused connection that died before any answer began says the request never left.
          error.reusedSocket = connection !== undefined && connection.answers > 0 && !connection.answering;
          connection?.destroy();
          reject(error);
        } else resolve(answer!);
      };
      const timedOut = () => {
        const error = failure(`timeout of ${timeoutMs}ms exceeded`, 'ETIMEDOUT');
        error.exchange = this.#stateOf(connection, performance.now() - started, connectMs, answersBefore, idleFor);
        finish(error);
      };
      const timer = setTimeout(timedOut, timeoutMs);
      if (watch) unwatch = watch(() => finish(new Error('aborted')));
      this.#take((error, made, idleMs) => {
        if (settled) {
          // Cancelled or timed out while connecting: the connection is not wanted.
          made?.destroy();
          return;
        }
        if (error) {
          finish(error);
          return;
        }
        connection = made!;
        connectMs = performance.now() - started;
        answersBefore = connection.answers;
        idleFor = idleMs;
        connection.send(request, finish);
      });
    });
  }

  /** Where an exchange on `connection` (none yet: still connecting) stands, for a timeout's report. */
  #stateOf(
    connection: Connection | undefined,
    elapsedMs: number,
    connectMs: number,
    answersBefore: number,
    idleMs: number | undefined,
  ): ExchangeState {
    const pool = { open: this.#all.size, idle: this.#idle.length };
    if (!connection) return { phase: 'connecting', elapsedMs: Math.round(elapsedMs), ...pool };
    const { socket } = connection;
    // A TLS socket has its Finished message once its handshake ended (its protocol is known before).
    const secure = 'getFinished' in socket ? (socket as TLSSocket) : undefined;
    const tls = secure && (secure.getFinished() === undefined ? 'handshaking' : (secure.getProtocol() ?? 'closed'));
    const handshaking = socket.connecting || tls === 'handshaking';
    return {
      phase: connection.answering ? 'answering' : handshaking ? 'connecting' : 'sent',
      elapsedMs: Math.round(elapsedMs),
      connectMs: Math.round(connectMs),
      reused: answersBefore > 0,
      answersBefore,
      ...(idleMs === undefined ? {} : { idleMs: Math.round(idleMs) }),
      answerBytes: connection.answerBytes,
      bytesWritten: socket.bytesWritten,
      bytesRead: socket.bytesRead,
      ...(socket.localPort === undefined ? {} : { localPort: socket.localPort }),
      readyState: socket.readyState,
      ...(tls === undefined ? {} : { tls }),
      destroyed: socket.destroyed,
      ...pool,
    };
  }

  /** An exchange's connection that read its answer whole and may serve another. */
  release(connection: Connection): void {
    if (!this.#all.has(connection) || connection.socket.destroyed) return;
    connection.idleSince = performance.now();
    connection.socket.unref();
    this.#idle.push(connection);
  }

  /** A connection that closed. */
  forget(connection: Connection): void {
    this.#all.delete(connection);
    const at = this.#idle.indexOf(connection);
    if (at >= 0) this.#idle.splice(at, 1);
  }

  /** Closes every connection. */
  close(): void {
    for (const connection of [...this.#all]) connection.destroy();
    this.#idle.length = 0;
  }

  /**
   * The most recently used idle connection still fresh enough (with how long it was idle), else a
   * new one.
   */
  #take(callback: (error: NetworkFailure | undefined, connection?: Connection, idleMs?: number) => void): void {
    const now = performance.now();
    for (;;) {
      const idle = this.#idle.pop();
      if (!idle) break;
      if (idle.socket.destroyed || !idle.socket.writable || now - idle.idleSince! >= this.#idleMs) {
        idle.destroy();
        continue;
      }
      idle.socket.ref();
      callback(undefined, idle, now - idle.idleSince!);
      return;
    }
    let called = false;
    const made = (error: Error | null | undefined, socket?: Socket) => {
      if (called) return;
      called = true;
      if (error || !socket) {
        callback((error ?? failure('no connection', 'ECONNRESET')) as NetworkFailure);
        return;
      }
      const connection = new Connection(socket, this);
      this.#all.add(connection);
      // An idle connection without traffic for idleMs is dropped; a busy one is bounded by its
      // exchange's own timeout.
      socket.setTimeout(this.#idleMs);
      socket.on('timeout', () => {
        if (connection.idleSince !== undefined) connection.destroy();
      });
      callback(undefined, connection);
    };
    const createConnection = (
      this.#agent as Agent & {
        createConnection(options: object, callback: (error: Error | null, socket: Socket) => void): Socket | undefined;
      }
    ).createConnection;
    const socket = createConnection.call(this.#agent, { ...this.#connectOptions }, made);
    if (socket) made(null, socket);
  }
}

/** Whether `path` may go in a request line as it is (node:http refuses the same). */
export function isSafePath(path: string): boolean {
  return !unsafePath.test(path);
}
