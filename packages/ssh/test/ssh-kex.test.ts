/**
 * The key exchange a connection negotiates: ECDH on P-256 where the server offers it (OpenSSH does),
 * curve25519 with a server that offers only that; the host key is checked against its pin either way.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import ssh2, { type Client, type ParsedKey } from 'ssh2';
import { openConnection } from '../src/connection';
import { ed25519VerifyInstalled } from '../src/ed25519-verify';
import { runCommand } from '../src/exec';
import {
  fingerprintOf,
  HostKeyMismatchError,
  publicKeyLineFingerprint,
  SshAuthError,
  SshConnectError,
} from '../src/index';
import { pinnedTarget, startSshd, type TestSshd } from './support';

let sshd: TestSshd;

before(async () => {
  sshd = await startSshd();
});

after(async () => {
  await sshd.stop();
});

const connectOptions = { connectTimeoutMs: 10_000, keepaliveIntervalMs: 15_000 };

/** Opens a connection and reports the key exchange it negotiated. */
async function negotiatedKex(open: (onClient: (client: Client) => void) => Promise<Client>): Promise<string> {
  let kex: string | undefined;
  const client = await open((c) => c.once('handshake', (negotiated) => (kex = negotiated.kex)));
  client.end();
  assert.ok(kex, 'the handshake reported its algorithms');
  return kex;
}

/** openConnection, with a look at the client before it connects (ssh2 emits 'handshake' before 'ready'). */
function openWatched(target: Parameters<typeof openConnection>[0]) {
  return (onClient: (client: Client) => void) => {
    const connect = ssh2.Client.prototype.connect;
    // The client openConnection makes is seen as it connects; the prototype is restored at once.
    ssh2.Client.prototype.connect = function (this: Client, config) {
      ssh2.Client.prototype.connect = connect;
      onClient(this);
      return connect.call(this, config);
    };
    return openConnection(target, connectOptions).finally(() => {
      ssh2.Client.prototype.connect = connect;
    });
  };
}

test('OpenSSH: the connection uses ECDH on P-256', async () => {
  assert.equal(await negotiatedKex(openWatched(pinnedTarget(sshd))), 'ecdh-sha2-nistp256');
});

/** An ssh2 server that offers only curve25519 and accepts any public key. */
async function curve25519OnlyServer() {
  const hostKey = ssh2.utils.generateKeyPairSync('ed25519');
  const server = new ssh2.Server(
    { hostKeys: [hostKey.private], algorithms: { kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org'] } },
    (client) => {
      client.on('error', () => undefined);
      client.on('authentication', (context) => (context.method === 'publickey' ? context.accept() : context.reject()));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    fingerprint: publicKeyLineFingerprint(hostKey.public).fingerprint,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('a server without P-256 gets curve25519, and its host key is still checked against the pin', async () => {
  const server = await curve25519OnlyServer();
  try {
    const target = pinnedTarget(sshd, {
      host: '127.0.0.1',
      port: server.port,
      hostKey: { kind: 'pinned', fingerprints: [server.fingerprint] },
    });
    assert.equal(await negotiatedKex(openWatched(target)), 'curve25519-sha256');
    const wrongPin = { ...target, hostKey: { kind: 'pinned' as const, fingerprints: [sshd.hostKeyFingerprint] } };
    await assert.rejects(openConnection(wrongPin, connectOptions), HostKeyMismatchError);
  } finally {
    await server.close();
  }
});

test("OpenSSH's host-key announcement after login is not proved: the key exchange already checked the pin", async () => {
  const target = pinnedTarget(sshd);
  // ssh2 on its own asks sshd to prove the keys it announces (that is what the check below counts)...
  const plain = new ssh2.Client();
  const announced = new Promise((resolve) => plain.once('hostkeys', resolve));
  plain.on('error', () => undefined);
  plain.connect({ host: target.host, port: target.port, username: target.username, privateKey: sshd.privateKey });
  const protocol = Object.getPrototypeOf((plain as unknown as { _protocol: object })._protocol);
  const prove = protocol.openssh_hostKeysProve;
  let proofs = 0;
  protocol.openssh_hostKeysProve = function (this: unknown, ...args: unknown[]) {
    proofs += 1;
    return prove.apply(this, args);
  };
  try {
    await announced;
    plain.end();
    assert.equal(proofs, 1, 'plain ssh2 asked for the proof');
    // ...ours does not; a command's answer comes after the announcement on the same connection.
    const client = await openConnection(target, connectOptions);
    const context = { host: target.host, port: target.port ?? 22, program: 'true' };
    assert.equal((await runCommand(client, 'true', context, {})).exitCode, 0);
    client.end();
    assert.equal(proofs, 1, 'no proof asked by openConnection');
  } finally {
    protocol.openssh_hostKeysProve = prove;
  }
});

/** An ssh2 server that notes each public-key login request, signed or not, and accepts a signed one from `allowed`. */
async function loginWatchingServer(allowed: string) {
  const hostKey = ssh2.utils.generateKeyPairSync('ed25519');
  const requests: ('signed' | 'asked')[] = [];
  const parsed = ssh2.utils.parseKey(allowed);
  if (parsed instanceof Error) throw parsed;
  const allowedBlob = parsed.getPublicSSH();
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('error', () => undefined);
    client.on('ready', () => client.end());
    client.on('authentication', (context) => {
      if (context.method !== 'publickey') return context.reject(['publickey']);
      requests.push(context.signature ? 'signed' : 'asked');
      const ours = context.key.data.equals(allowedBlob);
      if (!ours) return context.reject(['publickey']);
      context.accept();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    requests,
    port: (server.address() as AddressInfo).port,
    fingerprint: publicKeyLineFingerprint(hostKey.public).fingerprint,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('an Ed25519 key logs in with its signature at once, without asking first whether the key would do', async () => {
  const login = ssh2.utils.generateKeyPairSync('ed25519');
  const server = await loginWatchingServer(login.public);
  try {
    const target = pinnedTarget(sshd, {
      host: '127.0.0.1',
      port: server.port,
      privateKey: login.private,
      hostKey: { kind: 'pinned', fingerprints: [server.fingerprint] },
    });
    (await openConnection(target, connectOptions)).end();
    assert.deepEqual(server.requests, ['signed'], 'one signed request, no question before it');
    // A key the server does not take still fails as a refused login.
    const other = { ...target, privateKey: ssh2.utils.generateKeyPairSync('ed25519').private };
    await assert.rejects(openConnection(other, connectOptions), SshAuthError);
  } finally {
    await server.close();
  }
});

/** A new Ed25519 private key, parsed (ssh2's generator makes about one key in 256 that its own parser refuses). */
function parsedEd25519(): ParsedKey {
  for (;;) {
    const parsed = ssh2.utils.parseKey(ssh2.utils.generateKeyPairSync('ed25519').private);
    if (!(parsed instanceof Error)) return Array.isArray(parsed) ? parsed[0]! : parsed;
  }
}

/**
 * An ssh2 server that presents one Ed25519 host key but signs the key exchange with another key:
 * a machine that copied a guest's public host key, not its private one (with `holdsKey`, the same
 * server signing with the key it shows).
 */
async function keyCopyingServer(holdsKey = false) {
  const shown = parsedEd25519();
  const signing = holdsKey ? shown : parsedEd25519();
  const impostor = Object.create(shown) as ParsedKey;
  impostor.sign = (data, algo) => signing.sign(data, algo);
  // ssh2 takes a parsed key as given when it comes as `{ key }`.
  const hostKeys = [{ key: impostor as unknown as string }];
  const server = new ssh2.Server({ hostKeys }, (client) => {
    client.on('error', () => undefined);
    client.on('authentication', (context) => context.accept());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    fingerprint: fingerprintOf(shown.getPublicSSH()),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test("a server showing the pinned key without holding it is refused (ssh2's verify is our Ed25519 check)", async () => {
  for (const holdsKey of [false, true]) {
    const server = await keyCopyingServer(holdsKey);
    try {
      const target = pinnedTarget(sshd, {
        host: '127.0.0.1',
        port: server.port,
        hostKey: { kind: 'pinned', fingerprints: [server.fingerprint] },
      });
      if (holdsKey) (await openConnection(target, connectOptions)).end();
      else await assert.rejects(openConnection(target, connectOptions), SshConnectError);
    } finally {
      await server.close();
    }
  }
  // The check that refused it is the wrapper openConnection installs, still in ssh2's way.
  assert.equal(ed25519VerifyInstalled(), true);
});
