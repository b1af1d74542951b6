/** TLS trust against the simulator's HTTPS listener: pinned fingerprint, CA, refusal, explicit insecure. */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { rootCertificates, type TLSSocket } from 'node:tls';
import { createProxmox, normalizeFingerprint, ProxmoxClient, TlsVerificationError } from '../src/index';
import { createAgent } from '../src/tls';
import { type RunningSim, startSim } from './sim';

let sim: RunningSim;

before(async () => {
  sim = await startSim({ tls: true });
});

after(async () => {
  await sim?.stop();
});

test('the pinned fingerprint is accepted, in any spelling, and matches what GET /nodes reports', async () => {
  const fingerprint = sim.info.tlsFingerprint!;
  for (const spelling of [fingerprint, fingerprint.replaceAll(':', '').toLowerCase()]) {
    const pve = createProxmox(sim.config({ tls: { fingerprint: spelling } }));
    const nodes = await pve.cluster.nodes();
    pve.close();
    assert.equal(normalizeFingerprint(nodes[0]?.sslFingerprint ?? ''), normalizeFingerprint(fingerprint));
  }
});

test('a different fingerprint is refused (TlsVerificationError), never retried', async () => {
  const wrong = normalizeFingerprint(sim.info.tlsFingerprint!).replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
  const pve = createProxmox(sim.config({ tls: { fingerprint: wrong }, retry: { attempts: 4 } }));
  const error = await pve.cluster.nodes().catch((caught: Error) => caught);
  pve.close();
  assert.ok(error instanceof TlsVerificationError, String(error));
  assert.equal(error.retryable, false);
  assert.ok(!error.message.includes(sim.info.tokenSecret));
});

test('the cluster CA is accepted; without it the certificate is not trusted', async () => {
  const trusted = createProxmox(sim.config({ tls: { ca: sim.info.caCert! } }));
  assert.ok((await trusted.cluster.nodes()).length > 0);
  trusted.close();

  // A real CA, just not the one that signed this cluster's certificate.
  const untrusted = createProxmox(sim.config({ tls: { ca: rootCertificates[0]! } }));
  const error = await untrusted.cluster.nodes().catch((caught: Error) => caught);
  untrusted.close();
  assert.ok(error instanceof TlsVerificationError, String(error));
  assert.equal(error.retryable, false);
});

test('https without a trust setting is refused at construction; insecure must be explicit', async () => {
  const { tls: _tls, ...withoutTls } = sim.config();
  assert.throws(() => new ProxmoxClient(withoutTls), TlsVerificationError);
  const insecure = createProxmox(sim.config({ tls: { insecure: true } }));
  assert.ok((await insecure.cluster.nodes()).length > 0);
  insecure.close();
});

/** One request on a connection of its own (`Connection: close`); whether its TLS session was resumed. */
function resumedOnNewConnection(url: URL, agent: ReturnType<typeof createAgent>): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const sent = request(
      { host: url.hostname, port: url.port, path: '/api2/json/version', agent, headers: { Connection: 'close' } },
      (response) => {
        const reused = (response.socket as TLSSocket).isSessionReused();
        response.resume();
        response.on('end', () => resolve(reused));
      },
    );
    sent.on('error', reject);
    sent.end();
  });
}

test('new connections resume the session of one that passed the pin; a wrong pin never gets one', async () => {
  const url = new URL(sim.info.apiUrl);
  const pinned = createAgent(sim.info.apiUrl, { fingerprint: sim.info.tlsFingerprint! }, 4000);
  const reused: boolean[] = [];
  for (let i = 0; i < 3; i++) reused.push(await resumedOnNewConnection(url, pinned));
  pinned.destroy();
  // The first connection made the full, pinned handshake; the next ones resumed its session.
  assert.deepEqual(reused, [false, true, true]);

  const wrong = normalizeFingerprint(sim.info.tlsFingerprint!).replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
  const impostorCheck = createAgent(sim.info.apiUrl, { fingerprint: wrong }, 4000);
  for (let i = 0; i < 2; i++) {
    const error = await resumedOnNewConnection(url, impostorCheck).catch((caught: Error) => caught);
    assert.ok(error instanceof TlsVerificationError, String(error));
  }
  impostorCheck.destroy();
});

test("the client's own new connections resume their TLS session, pinned or CA-checked", async () => {
  // Every TLS connection this process makes, in order: whether it resumed a session.
  const resumed: boolean[] = [];
  const connect = Socket.prototype.connect;
  Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
    this.once('secureConnect', () => resumed.push((this as TLSSocket).isSessionReused()));
    return (connect as (...a: unknown[]) => Socket).apply(this, args);
  } as typeof connect;
  try {
    for (const tls of [{ fingerprint: sim.info.tlsFingerprint! }, { ca: sim.info.caCert! }]) {
      resumed.length = 0;
      const pve = createProxmox(sim.config({ tls, retry: { attempts: 1 } }));
      for (let i = 0; i < 3; i++) {
        // PVE closes the connection after an error answer: each call here needs a new one.
        await assert.rejects(pve.client.get('/nodes/pve01/qemu/99999/config'));
      }
      pve.close();
      assert.deepEqual(resumed, [false, true, true], JSON.stringify(tls).slice(0, 20));
    }
  } finally {
    Socket.prototype.connect = connect;
  }
});
