/**
 * One listening SSH server of the simulator (the node's, or one guest's): authentication by a
 * callback, `exec` channels run by the mini-shell, optionally the SFTP subsystem. Nothing a client
 * sends is ever executed on the real machine.
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '@glassdome/logger';
import ssh2, { type AuthContext, type Connection, type ServerChannel, type SFTPWrapper } from 'ssh2';
import type { Shell } from '../shell/interpreter';
import { runInteractive } from './interactive';

export interface SshEndpointOptions {
  /** Address to bind (the node's, or a guest's loopback address). */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** OpenSSH private host key. */
  hostKey: string;
  /** Host name shown in an interactive login's prompt. */
  hostname: string;
  /** Decides a login attempt; must call neither accept nor reject itself. */
  authenticate(context: AuthContext): boolean;
  /** The shell an `exec` channel of `username` runs in. */
  shellFor(username: string): Shell;
  /** Serves an SFTP session for `username`; absent = the subsystem is refused. */
  serveSftp?(sftp: SFTPWrapper, username: string): void;
  /** Told about every command line run and its exit status. */
  onExec?(username: string, command: string, code: number): void;
  /**
   * Decides a TCP connection from `remoteAddress` before SSH starts (a firewall in front):
   * `reject` resets it, `drop` leaves it unanswered until the client gives up. Absent = accept all.
   */
  admit?(remoteAddress: string): 'accept' | 'reject' | 'drop';
  logger: Logger;
}

/**
 * The signals sshd delivers for a channel signal request, with their numbers on Linux: OpenSSH knows
 * only these (session.c, name2sig) and refuses any other name, RFC 4254's ABRT, ALRM, FPE, ILL, PIPE
 * and SEGV included.
 */
const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  KILL: 9,
  USR1: 10,
  USR2: 12,
  TERM: 15,
};

/** The status a shell shows for a command the signal `name` (one of SIGNAL_NUMBERS) killed. */
const statusOfSignal = (name: string) => 128 + SIGNAL_NUMBERS[name]!;

/** Methods a client may still try, as the server lists them after a failure. */
const AUTH_METHODS: Array<'publickey' | 'password'> = ['publickey', 'password'];

export class SshEndpoint {
  private readonly server: ssh2.Server;
  private readonly connections = new Set<Connection>();
  /** The TCP listener that hands admitted sockets to the SSH server. */
  private readonly gate: Server;
  private readonly held = new Set<Socket>();

  constructor(private readonly options: SshEndpointOptions) {
    this.server = new ssh2.Server({ hostKeys: [options.hostKey] }, (client) => this.accept(client));
    this.gate = createServer((socket) => this.admitSocket(socket));
  }

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    const listener = this.gate;
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(this.options.port, this.options.host, () => {
        listener.off('error', reject);
        resolve((listener.address() as AddressInfo).port);
      });
    });
  }

  /** Stops listening and drops every open connection, as a powered-off machine would. */
  close(): Promise<void> {
    for (const connection of this.connections) connection.end();
    for (const socket of this.held) socket.destroy();
    this.held.clear();
    return new Promise((resolve) => this.gate.close(() => resolve()));
  }

  private admitSocket(socket: Socket) {
    const decision = this.options.admit?.(socket.remoteAddress?.replace(/^::ffff:/, '') ?? '') ?? 'accept';
    if (decision === 'accept') {
      coalesceWrites(socket);
      this.server.injectSocket(socket);
      return;
    }
    socket.on('error', () => undefined);
    if (decision === 'reject') {
      socket.resetAndDestroy();
      return;
    }
    // Dropped: nothing is ever sent; the client's own timeout ends it.
    this.held.add(socket);
    socket.on('close', () => this.held.delete(socket));
  }

  private accept(client: Connection) {
    this.connections.add(client);
    let username = '';
    client.on('close', () => this.connections.delete(client));
    client.on('error', (error) => this.options.logger.debug({ err: error }, 'ssh connection error'));
    client.on('authentication', (context) => {
      if (this.options.authenticate(context)) {
        username = context.username;
        context.accept();
      } else {
        context.reject(AUTH_METHODS);
      }
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        let pty = false;
        // What the session's command is killed with: a channel signal (below) or its channel closing.
        const killed = new AbortController();
        let killedBy: string | undefined;
        // Whether a command or shell runs: sshd signals the session's process group, and refuses a
        // signal while it has none (before exec or shell, once it ended, an SFTP subsystem).
        let running = false;
        session.on('pty', (accept) => {
          pty = true;
          accept?.();
        });
        session.on('window-change', (accept) => accept?.());
        session.on('env', (accept) => accept?.());
        // sshd before OpenSSH 10.0 (the node's 9.2, the guests' 8.9-9.6) delivers a channel signal only
        // under privilege separation, i.e. not for root, whose sessions refuse it. Any signal ends a
        // simulated command (none catches one).
        session.on('signal', (accept, reject, info) => {
          const known = Object.hasOwn(SIGNAL_NUMBERS, info.name);
          if (!known || !running || username === 'root' || killed.signal.aborted) return reject?.();
          accept?.();
          killedBy = info.name;
          killed.abort();
        });
        session.on('shell', (accept) => {
          running = true;
          runInteractive(this.watch(accept(), killed), this.options.shellFor(username), {
            hostname: this.options.hostname,
            pty,
            onLine: (line, code) => this.options.onExec?.(username, line, killedBy ? statusOfSignal(killedBy) : code),
            signal: killed.signal,
            killedBy: () => killedBy,
          }).then(() => {
            running = false;
          });
        });
        session.on('exec', (accept, _reject, info) => {
          running = true;
          this.runExec(this.watch(accept(), killed), info.command, username, killed.signal, () => killedBy).then(() => {
            running = false;
          });
        });
        session.on('sftp', (accept, reject) => {
          if (this.options.serveSftp) this.options.serveSftp(accept(), username);
          else reject();
        });
      });
    });
  }

  /**
   * A channel whose closing kills its command, as the simulator's only way to free what it waits on:
   * a real sshd leaves a command whose channel closed running until it next writes, but a simulated
   * one holds nothing that needs it to finish.
   */
  private watch(channel: ServerChannel, killed: AbortController): ServerChannel {
    channel.once('close', () => killed.abort());
    return channel;
  }

  private runExec(
    channel: ServerChannel,
    command: string,
    username: string,
    signal: AbortSignal,
    killedBy: () => string | undefined,
  ): Promise<void> {
    const stdin = collectStdin(channel);
    const shell = this.options.shellFor(username);
    const write = (stream: NodeJS.WritableStream, text: string) => {
      if (text && channel.writable) stream.write(text);
    };
    return shell
      .run(command, {
        stdout: (text) => write(channel, text),
        stderr: (text) => write(channel.stderr, text),
        stdin,
        signal,
      })
      .catch((error: unknown) => {
        this.options.logger.error({ err: error }, 'simulated command crashed');
        write(channel.stderr, 'pve-sim: internal error\n');
        return 255;
      })
      .then((code) => {
        // A command a channel signal killed ends with that signal (its status as a shell shows it,
        // 128 + the signal's number), and exit-signal reports it.
        const signalName = killedBy();
        this.options.onExec?.(username, command, signalName ? statusOfSignal(signalName) : code);
        if (channel.writable) {
          if (signalName) channel.exit(signalName, false, '');
          else channel.exit(code);
          channel.end();
        }
      });
  }
}

/**
 * ssh2 writes every SSH packet to the socket by itself; the packets made in one go (a key exchange
 * reply and NEWKEYS, a command's output, exit status, EOF and close) leave in one write instead of
 * a system call each: the socket is corked at the first write and uncorked once the tick ends.
 */
function coalesceWrites(socket: Socket): void {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  const write = socket.write;
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args as Parameters<typeof write>);
  } as Socket['write'];
}

/** The channel's stdin as one string, available once the client sends EOF. */
function collectStdin(channel: ServerChannel): () => Promise<string> {
  const chunks: Buffer[] = [];
  channel.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<string>((resolve) => {
    channel.once('end', () => resolve(Buffer.concat(chunks).toString()));
    channel.once('close', () => resolve(Buffer.concat(chunks).toString()));
  });
  return () => ended;
}
