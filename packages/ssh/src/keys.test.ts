import assert from 'node:assert/strict';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { SshKeyError } from './errors';
import { signingKey } from './keys';

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
