import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HostKeyMismatchError } from './errors';
import {
  fingerprintOf,
  type HostKeyStore,
  keyTypeOf,
  policyIdentity,
  publicKeyLineFingerprint,
  verifyHostKey,
} from './host-key';

/** An SSH public key blob: string algorithm name, then key bytes. */
function blob(type: string, body: string): Buffer {
  const name = Buffer.from(type);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  return Buffer.concat([length, name, Buffer.from(body)]);
}

function memoryStore(): HostKeyStore & { rows: Map<string, string> } {
  const rows = new Map<string, string>();
  return {
    rows,
    get: async (host, port) => rows.get(`${host}:${port}`),
    trust: async (host, port, fingerprint) => {
      const key = `${host}:${port}`;
      if (!rows.has(key)) rows.set(key, fingerprint);
      return rows.get(key)!;
    },
  };
}

const keyA = blob('ssh-ed25519', 'key-a');
const keyB = blob('ssh-ed25519', 'key-b');

test('fingerprints use ssh-keygen format without base64 padding', () => {
  assert.match(fingerprintOf(keyA), /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.notEqual(fingerprintOf(keyA), fingerprintOf(keyB));
});

test('the key type is read from the blob', () => {
  assert.equal(keyTypeOf(keyA), 'ssh-ed25519');
  assert.equal(keyTypeOf(Buffer.alloc(2)), 'unknown');
});

test('a pinned key is accepted, padded or not; any other key is a mismatch naming both', async () => {
  await verifyHostKey({ kind: 'pinned', fingerprints: [`${fingerprintOf(keyA)}=`] }, 'h', 22, keyA);
  const error = await verifyHostKey({ kind: 'pinned', fingerprints: [fingerprintOf(keyA)] }, 'h', 22, keyB).catch(
    (e) => e,
  );
  assert.ok(error instanceof HostKeyMismatchError);
  assert.deepEqual(error.expected, [fingerprintOf(keyA)]);
  assert.equal(error.received, fingerprintOf(keyB));
  assert.match(error.message, /h:22: HOST KEY MISMATCH/);
});

test('an empty pin list accepts nothing', async () => {
  await assert.rejects(verifyHostKey({ kind: 'pinned', fingerprints: [] }, 'h', 22, keyA), HostKeyMismatchError);
});

test('trust on first use records the first key, then holds the host to it', async () => {
  const store = memoryStore();
  await verifyHostKey({ kind: 'tofu', store }, 'guest', 22, keyA);
  assert.equal(store.rows.get('guest:22'), fingerprintOf(keyA));
  await verifyHostKey({ kind: 'tofu', store }, 'guest', 22, keyA);
  await assert.rejects(verifyHostKey({ kind: 'tofu', store }, 'guest', 22, keyB), HostKeyMismatchError);
  await verifyHostKey({ kind: 'tofu', store }, 'guest', 2222, keyB);
});

test('a store that fails is not mistaken for a mismatch', async () => {
  const broken: HostKeyStore = {
    get: async () => {
      throw new Error('database down');
    },
    trust: async () => '',
  };
  await assert.rejects(verifyHostKey({ kind: 'tofu', store: broken }, 'h', 22, keyA), /database down/);
});

test('policies that accept different keys have different identities', () => {
  const pinned = (fingerprints: string[]) => policyIdentity({ kind: 'pinned', fingerprints });
  assert.equal(pinned(['SHA256:b', 'SHA256:a']), pinned(['SHA256:a', 'SHA256:b=']));
  assert.notEqual(pinned(['SHA256:a']), pinned(['SHA256:b']));
});

test('a .pub line gives the fingerprint ssh-keygen prints for it; a line that is not a key is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gd-pub-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'root@guest', '-f', join(dir, 'key')]);
    const line = readFileSync(join(dir, 'key.pub'), 'utf8');
    const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'key.pub')], {
      encoding: 'utf8',
    });
    assert.deepEqual(publicKeyLineFingerprint(`${line}\n`), {
      keyType: 'ssh-ed25519',
      fingerprint: printed.split(' ')[1],
    });
    const [, data] = line.split(' ');
    assert.throws(() => publicKeyLineFingerprint(`ssh-rsa ${data}`), /not an OpenSSH public key line/);
    assert.throws(() => publicKeyLineFingerprint('ssh-ed25519 !!!'), /not an OpenSSH public key line/);
    assert.throws(() => publicKeyLineFingerprint(''), /not an OpenSSH public key line/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
