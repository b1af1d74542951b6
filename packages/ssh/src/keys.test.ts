import assert from 'node:assert/strict';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { SshKeyError } from './errors';
import { checkEd25519WithRawKeys, signingKey } from './keys';

test('a key is parsed once per process, and its ed25519 signatures are the ones ssh2 makes and checks', () => {
  const { private: privateKey } = ssh2.utils.generateKeyPairSync('ed25519');
  const key = signingKey(privateKey);
  assert.equal(signingKey(privateKey), key, 'the same key again is the parsed one');
  assert.equal(key.type, 'ssh-ed25519');
  assert.ok(key.isPrivateKey());
  const data = Buffer.from('session id and userauth request');
  const signature = key.sign(data);
  assert.ok(Buffer.isBuffer(signature));
  const reference = ssh2.utils.parseKey(privateKey);
  if (reference instanceof Error || Array.isArray(reference)) throw new Error('reference key did not parse');
  // Ed25519 signatures are deterministic: the fast path signs exactly as ssh2 would.
  assert.deepEqual(signature, reference.sign(data));
  assert.equal(reference.verify(data, signature), true);
  assert.equal(reference.verify(Buffer.from('other data'), signature), false);
});

test('an unusable key is refused with a message that holds none of it', () => {
  const error = (() => {
    try {
      signingKey('-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA-secret-looking-text\n-----END OPENSSH PRIVATE KEY-----');
    } catch (caught) {
      return caught;
    }
  })();
  assert.ok(error instanceof SshKeyError);
  assert.ok(!error.message.includes('secret-looking'));
});

/** The parsed public half of a generated ed25519 key, and a signature its private half made. */
function signedSample() {
  const pair = ssh2.utils.generateKeyPairSync('ed25519');
  const publicKey = ssh2.utils.parseKey(pair.public);
  if (publicKey instanceof Error || Array.isArray(publicKey)) throw new Error('public key did not parse');
  const data = Buffer.from('exchange hash');
  return { publicKey, data, signature: signingKey(pair.private).sign(data) };
}

test('ssh2 checks ed25519 signatures from the key itself, not from its PEM text, with the same answers', () => {
  checkEd25519WithRawKeys();
  checkEd25519WithRawKeys();
  const { publicKey, data, signature } = signedSample();
  // The PEM text ssh2 keeps with the key (and hands crypto.verify) made unreadable: the check must not need it.
  const pem = Object.getOwnPropertySymbols(publicKey).find((symbol) =>
    String((publicKey as unknown as Record<symbol, unknown>)[symbol]).startsWith('-----BEGIN PUBLIC KEY-----'),
  );
  assert.ok(pem, 'ssh2 keeps the public PEM on the key');
  (publicKey as unknown as Record<symbol, unknown>)[pem] =
    '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----';
  assert.equal(publicKey.verify(data, signature), true);
  assert.equal(publicKey.verify(Buffer.from('another exchange hash'), signature), false);
  const other = signedSample();
  assert.equal(publicKey.verify(data, other.signature), false, "another key's signature");
  const tampered = Buffer.from(signature);
  tampered[10] = (tampered[10] ?? 0) ^ 1;
  assert.equal(publicKey.verify(data, tampered), false);
  assert.equal(publicKey.verify(data, Buffer.alloc(3)), false, 'a signature of the wrong length');
});

test('keys of other types are checked by ssh2 as before', () => {
  checkEd25519WithRawKeys();
  const pair = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
  const privateKey = ssh2.utils.parseKey(pair.private);
  const publicKey = ssh2.utils.parseKey(pair.public);
  if (privateKey instanceof Error || Array.isArray(privateKey)) throw new Error('private key did not parse');
  if (publicKey instanceof Error || Array.isArray(publicKey)) throw new Error('public key did not parse');
  const data = Buffer.from('exchange hash');
  const signature = privateKey.sign(data);
  assert.equal(publicKey.verify(data, signature), true);
  assert.equal(publicKey.verify(Buffer.from('other'), signature), false);
});
