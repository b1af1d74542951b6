import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '@glassdome/logger';
import { startSshd, type TestSshd } from '@glassdome/testkit';
import { SshPool, type SshPoolOptions, type SshTarget } from '../src/index';

/** A pool whose debug log is captured, so tests can inspect every line this package writes. */
export function capturedPool(options: SshPoolOptions = {}): { pool: SshPool; logText: () => string } {
  let text = '';
  const destination = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ name: 'ssh-test', level: 'debug', format: 'json', destination });
  return { pool: new SshPool({ logger, ...options }), logText: () => text };
}

/** The target of a test sshd, with its host key pinned. */
export function pinnedTarget(sshd: TestSshd, overrides: Partial<SshTarget> = {}): SshTarget {
  return {
    host: sshd.host,
    port: sshd.port,
    username: sshd.user,
    privateKey: sshd.privateKey,
    hostKey: { kind: 'pinned', fingerprints: [sshd.hostKeyFingerprint] },
    ...overrides,
  };
}

export { startSshd, type TestSshd };

/**
 * A loopback TCP forwarder that tests steer: forward to a port; or answer and hang up at once (a host
 * whose port is open but whose sshd is not up yet); or answer and stay silent (a hung host). It can
 * also drop every live connection (a network cut).
 */
export interface TcpProxy {
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  forwardTo(behaviour: number | 'hang-up' | 'silent'): void;
  dropAll(): void;
  /** Stops moving bytes on every live connection, as a hung peer or a black-holed route does. */
  freezeAll(): void;
  stop(): Promise<void>;
}

export async function startTcpProxy(initial: number | 'hang-up' | 'silent' = 'hang-up'): Promise<TcpProxy> {
  let behaviour = initial;
  let accepted = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    accepted += 1;
    track(client);
    if (behaviour === 'hang-up') return client.destroy();
    if (behaviour === 'silent') return;
    const upstream = tcpConnect(behaviour, '127.0.0.1');
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('proxy has no address');
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: address.port,
    accepted: () => accepted,
    forwardTo: (next) => {
      behaviour = next;
    },
    dropAll,
    freezeAll: () => {
      for (const socket of sockets) socket.pause();
    },
    stop: () => {
      dropAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
