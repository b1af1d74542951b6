import assert from 'node:assert/strict';
import { test } from 'node:test';
import ssh2, { type ParsedKey } from 'ssh2';
import { ed25519VerifyInstalled, verifyEd25519FromRawKey } from './ed25519-verify';

/** A new key pair, parsed (ssh2's generator makes about one Ed25519 key in 256 that its own parser refuses). */
function keyPair(type: 'ed25519' | 'ecdsa'): { privateKey: ParsedKey; publicKey: ParsedKey } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync(type, type === 'ecdsa' ? { bits: 256 } : {});
    const [privateKey, publicKey] = [pair.private, pair.public].map((text) => ssh2.utils.parseKey(text));
    if (privateKey instanceof Error || publicKey instanceof Error) continue;
    const one = (key: ParsedKey | ParsedKey[]) => (Array.isArray(key) ? key[0]! : key);
    return { privateKey: one(privateKey!), publicKey: one(publicKey!) };
  }
}

// ssh2's own verify, kept before the wrapper is installed, to compare answers with.
const probe = keyPair('ed25519').publicKey;
const ssh2Verify = Object.getPrototypeOf(probe).verify as ParsedKey['verify'];
verifyEd25519FromRawKey();

test('the wrapper is installed on the prototype of every key ssh2 parses', () => {
  assert.equal(ed25519VerifyInstalled(), true);
  assert.notEqual(keyPair('ed25519').publicKey.verify, ssh2Verify);
});

test('an Ed25519 signature is accepted or refused exactly as ssh2 itself decides', () => {
  const { privateKey, publicKey } = keyPair('ed25519');
  const other = keyPair('ed25519');
  const data = Buffer.from('exchange hash');
  const signature = privateKey.sign(data) as Buffer;
  const tampered = Buffer.from(signature);
  tampered[10] = (tampered[10] ?? 0) ^ 1;
  const cases: [string, ParsedKey, Buffer, Buffer][] = [
    ['good signature', publicKey, data, signature],
    ['other data', publicKey, Buffer.from('another hash'), signature],
    ['tampered signature', publicKey, data, tampered],
    ["another key's signature", publicKey, data, other.privateKey.sign(data) as Buffer],
    ['signature checked with another key', other.publicKey, data, signature],
    ['truncated signature', publicKey, data, signature.subarray(0, 63)],
  ];
  for (const [name, key, signed, sig] of cases) {
    const ours = key.verify(signed, sig);
    const theirs = ssh2Verify.call(key, signed, sig);
    assert.equal(ours === true, theirs === true, name);
  }
  assert.equal(publicKey.verify(data, signature), true);
  assert.notEqual(publicKey.verify(data, tampered), true);
});

test('other key types keep ssh2 verification', () => {
  const { privateKey, publicKey } = keyPair('ecdsa');
  const data = Buffer.from('exchange hash');
  const signature = privateKey.sign(data) as Buffer;
  assert.equal(publicKey.verify(data, signature), true);
  assert.notEqual(publicKey.verify(Buffer.from('other'), signature), true);
});
