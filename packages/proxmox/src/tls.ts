import { Agent as HttpAgent } from 'node:http';
import { type AgentOptions, Agent as HttpsAgent, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, connect, type TLSSocket } from 'node:tls';
import type { TlsTrust } from './config';
import { TlsVerificationError } from './errors';

/** `ab:cd:…`, `ABCD…` → `ABCD…`, so fingerprints compare whatever their spelling. */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replace(/[^0-9a-f]/gi, '').toUpperCase();
}

type ConnectCallback = (error: Error | null, socket: Duplex) => void;

/**
 * An https agent that hands a socket to a request only after the peer's certificate matched the pinned
 * SHA-256 fingerprint, so no header (and no token) is ever written to an unverified server. PVE's
 * certificate is signed by a per-cluster CA nobody trusts, so chain checks are replaced by the pin.
 *
 * New connections resume the TLS session of an earlier one that passed the pin (an abbreviated
 * handshake: no certificate, no key exchange signature), as Node's own agent does for verified
 * sessions. A resumed session shows no certificate to check, and needs none: only the server that
 * completed the pinned handshake holds the session's secret, so an impostor can only offer a full
 * handshake, whose certificate is checked against the pin as always.
 */
class PinnedAgent extends HttpsAgent {
  readonly #expected: string;
  /** The latest session per server (`host:port`) from a connection that passed the pin. */
  readonly #sessions = new Map<string, Buffer>();

  constructor(fingerprint: string, options: AgentOptions) {
    super(options);
    this.#expected = normalizeFingerprint(fingerprint);
  }

  override createConnection(options: RequestOptions, callback?: ConnectCallback): Duplex | undefined {
    const server = `${options.host}:${options.port}`;
    const offered = this.#sessions.get(server);
    const socket: TLSSocket = connect({
      ...(options as ConnectionOptions),
      rejectUnauthorized: false,
      ...(offered ? { session: offered } : {}),
    });
    let verified = false;
    let session: Buffer | undefined;
    const keep = () => {
      if (verified && session) this.#sessions.set(server, session);
    };
    // TLS 1.3 sends its tickets after the handshake: kept only once this connection passed the pin.
    socket.on('session', (ticket: Buffer) => {
      session = ticket;
      keep();
    });
    const fail = (error: Error) => {
      socket.destroy();
      callback?.(error, socket);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.off('error', fail);
      if (offered && socket.isSessionReused()) {
        verified = true;
        keep();
        callback?.(null, socket);
        return;
      }
      const actual = normalizeFingerprint(socket.getPeerCertificate().fingerprint256 ?? '');
      if (actual === this.#expected) {
        verified = true;
        keep();
        callback?.(null, socket);
        return;
      }
      this.#sessions.delete(server);
      fail(
        new TlsVerificationError(
          `certificate of ${options.host}:${options.port} has SHA-256 fingerprint ${actual || '(none)'}, pinned ${this.#expected}`,
        ),
      );
    });
    return undefined;
  }
}

/**
 * The agent that makes the connections to `baseUrl`, TLS trusted exactly as `trust` says: the client's
 * connection pool (http1.ts) asks its `createConnection` for each new one, as node's own pool would;
 * as an agent of its own (the tests' node:https requests), keep-alive with idle sockets dropped after
 * `idleMs` (pveproxy closes them after 5 s). Plain http is only for the local simulator.
 */
export function createAgent(baseUrl: string, trust: TlsTrust | undefined, idleMs: number): HttpAgent {
  // TCP keep-alive probes (60 s) watch the kept connections.
  const options: AgentOptions = { keepAlive: true, keepAliveMsecs: 60_000, timeout: idleMs };
  if (new URL(baseUrl).protocol === 'http:') return new HttpAgent(options);
  if (!trust)
    throw new TlsVerificationError('https needs tls: { fingerprint } or { ca } (or an explicit { insecure: true })');
  if ('fingerprint' in trust) return new PinnedAgent(trust.fingerprint, options);
  if ('ca' in trust) return new HttpsAgent({ ...options, ca: trust.ca });
  return new HttpsAgent({ ...options, rejectUnauthorized: false });
}
