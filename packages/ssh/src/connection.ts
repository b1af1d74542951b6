import { type Algorithms, Client, type ParsedKey, type PublicKeyAuthMethod } from 'ssh2';
import { verifyEd25519FromRawKey } from './ed25519-verify';
import { HostKeyMismatchError, SshAuthError, SshConnectError, SshTimeoutError } from './errors';
import { verifyHostKey } from './host-key';
import { signingKey } from './keys';
import { portOf, type SshTarget } from './target';

export interface ConnectOptions {
  /** Time allowed for TCP connect, handshake, host-key check and authentication. */
  connectTimeoutMs: number;
  /** Interval of SSH keepalives that detect a dead peer on an idle pooled connection. */
  keepaliveIntervalMs: number;
}

/**
 * Key exchange: ECDH on NIST P-256 first, then the rest of ssh2 1.17's default order (curve25519
 * next). Both are in OpenSSH's default offer and give about 128-bit security; P-256 goes first for its
 * cost in Node: ssh2's curve25519 goes through KeyObjects (a key pair generated, its public half
 * exported as DER, the peer's imported from DER), P-256 through one ECDH object. Against OpenSSH's
 * sshd on loopback a whole connection (connect, key exchange, host-key check, login, close) took
 * 3.8 ms of the client's CPU against 5.1 ms with curve25519 (medians of 5 alternating runs of 150
 * connections, load 2.4-4.8). Every new connection pays it: a lab VM's guest gets about two.
 */
const ALGORITHMS: Algorithms = {
  kex: [
    'ecdh-sha2-nistp256',
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521',
    'diffie-hellman-group-exchange-sha256',
    'diffie-hellman-group14-sha256',
    'diffie-hellman-group15-sha512',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group17-sha512',
    'diffie-hellman-group18-sha512',
  ],
};

verifyEd25519FromRawKey();

/** ssh2 tags its errors with a level; it is how authentication and handshake timeouts are told apart. */
type Ssh2Error = Error & { level?: string; code?: string };

/**
 * Opens one authenticated connection. The host key is verified before authentication; a key that does
 * not match the policy ends the attempt with HostKeyMismatchError instead of ssh2's vague denial.
 */
export function openConnection(target: SshTarget, options: ConnectOptions): Promise<Client> {
  const key = signingKey(target.privateKey, target.passphrase);
  const port = portOf(target);
  const client = new Client();
  // The real reason a host key was refused: ssh2 itself only reports "Host denied".
  let hostKeyFailure: unknown;

  return new Promise((resolve, reject) => {
    let settled = false;
    // Stays attached for the client's life: ssh2 may emit several errors (a handshake timeout, then
    // "Connection lost"), and an error without a listener would crash the process. Errors after
    // 'ready' are always followed by 'close', which is what the pool watches.
    client.on('error', (error: Ssh2Error) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(hostKeyFailure ?? classifyConnectError(target, port, error, options.connectTimeoutMs));
    });
    client.once('ready', () => {
      settled = true;
      resolve(client);
    });
    // A server that closes the connection before the handshake ends (a guest rebooting, sshd
    // restarting) makes ssh2 stop its ready timer and report only the close, no error: without this
    // the connect would never settle.
    client.once('close', () => {
      if (settled) return;
      settled = true;
      reject(hostKeyFailure ?? new SshConnectError(target.host, port, 'the connection closed during the handshake'));
    });
    client.connect({
      host: target.host,
      port,
      username: target.username,
      // Only our key, and straight away (no `none` attempt first); never an agent or keyboard prompts.
      authHandler: [{ type: 'publickey', username: target.username, key } as PublicKeyAuthMethod],
      readyTimeout: options.connectTimeoutMs,
      keepaliveInterval: options.keepaliveIntervalMs,
      keepaliveCountMax: 3,
      agent: undefined,
      tryKeyboard: false,
      algorithms: ALGORITHMS,
      hostVerifier: (hostKey: Buffer, accept: (ok: boolean) => void) => {
        verifyHostKey(target.hostKey, target.host, port, hostKey).then(
          () => accept(true),
          (error: unknown) => {
            hostKeyFailure = error;
            accept(false);
          },
        );
      },
    });
    ignoreHostKeyAnnouncements(client);
    signWithoutAsking(client, key);
  });
}

type AuthPk = (username: string, pubKey: unknown, keyAlgo?: unknown, sign?: unknown) => void;
type SignCallback = (data: Buffer, done: (signature: Buffer) => void) => void;

/**
 * ssh2 first asks whether the server would accept our public key (a USERAUTH_REQUEST without a
 * signature), and signs only once it says yes: a round trip for nothing, since we hold one key and
 * offer no other method. RFC 4252 lets a client send the signed request at once, and the server then
 * answers it as it would the signed one that follows the question (success or failure). The
 * signature covers this session's id and goes only to a server whose host key the key exchange
 * already checked (the host verifier runs before authentication). Only for an Ed25519 key, which signs
 * with no hash to choose; other keys keep ssh2's question. The test in ssh-kex watches that the
 * question is gone.
 */
function signWithoutAsking(client: Client, key: ParsedKey): void {
  if (key.type !== 'ssh-ed25519') return;
  const protocol = (client as unknown as { _protocol?: { authPK?: AuthPk } })._protocol;
  const authPK = protocol?.authPK;
  if (!protocol || typeof authPK !== 'function') return;
  protocol.authPK = function (this: unknown, username, pubKey, keyAlgo, sign) {
    if (sign !== undefined || pubKey !== key || typeof keyAlgo === 'function') {
      return authPK.call(this, username, pubKey, keyAlgo, sign);
    }
    const signer: SignCallback = (data, done) => {
      const signature = key.sign(data);
      // ssh2's key hands a signing failure back instead of throwing it. Thrown here, it ends the
      // connection with that error (not as a refused login); a key that parsed signs whatever it is given.
      if (signature instanceof Error) throw signature;
      done(signature);
    };
    return authPK.call(this, username, pubKey, keyAlgo, signer);
  } satisfies AuthPk;
}

type GlobalRequestHandler = (protocol: unknown, name: string, wantReply: boolean, data: unknown) => void;

/**
 * OpenSSH's sshd announces every host key it has right after login (hostkeys-00@openssh.com, for
 * clients that keep known_hosts up to date), and ssh2 answers on its own: it asks the server to sign
 * each key with the session (the guest makes one signature per host key, RSA among them) and
 * verifies every signature here, a round trip later, only to emit an event. We trust the key the key
 * exchange verified against the pins and never use announced ones, as OpenSSH's client with
 * UpdateHostKeys=no does, so the announcement is acknowledged if asked and otherwise dropped. ssh2
 * keeps its message handlers on the protocol object of the connection; the test in ssh-kex watches
 * that this still takes effect.
 */
function ignoreHostKeyAnnouncements(client: Client): void {
  const protocol = (
    client as unknown as { _protocol?: { _handlers?: Record<string, unknown>; requestSuccess(): void } }
  )._protocol;
  const handlers = protocol?._handlers;
  const handle = handlers?.GLOBAL_REQUEST as GlobalRequestHandler | undefined;
  if (!protocol || !handlers || typeof handle !== 'function') return;
  handlers.GLOBAL_REQUEST = ((self, name, wantReply, data) => {
    if (name !== 'hostkeys-00@openssh.com') return handle(self, name, wantReply, data);
    if (wantReply) protocol.requestSuccess();
  }) satisfies GlobalRequestHandler;
}

function classifyConnectError(target: SshTarget, port: number, error: Ssh2Error, timeoutMs: number): Error {
  if (error instanceof HostKeyMismatchError) return error;
  if (error.level === 'client-authentication') return new SshAuthError(target.host, port, target.username);
  if (error.level === 'client-timeout') return new SshTimeoutError(target.host, port, 'connect', timeoutMs);
  return new SshConnectError(target.host, port, error.code ?? error.message);
}
