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
        session.on('pty', (accept) => {
          pty = true;
          accept?.();
        });
        session.on('window-change', (accept) => accept?.());
        session.on('env', (accept) => accept?.());
        session.on('shell', (accept) =>
          runInteractive(accept(), this.options.shellFor(username), {
            hostname: this.options.hostname,
            pty,
            onLine: (line, code) => this.options.onExec?.(username, line, code),
          }),
        );
        session.on('exec', (accept, _reject, info) => this.runExec(accept(), info.command, username));
        session.on('sftp', (accept, reject) => {
          if (this.options.serveSftp) this.options.serveSftp(accept(), username);
          else reject();
        });
      });
    });
  }

  private runExec(channel: ServerChannel, command: string, username: string) {
    const stdin = collectStdin(channel);
    const shell = this.options.shellFor(username);
    const write = (stream: NodeJS.WritableStream, text: string) => {
      if (text && channel.writable) stream.write(text);
    };
    shell
      .run(command, { stdout: (text) => write(channel, text), stderr: (text) => write(channel.stderr, text), stdin })
      .catch((error: unknown) => {
        this.options.logger.error({ err: error }, 'simulated command crashed');
        write(channel.stderr, 'pve-sim: internal error\n');
        return 255;
      })
      .then((code) => {
        this.options.onExec?.(username, command, code);
        if (channel.writable) {
          channel.exit(code);
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
