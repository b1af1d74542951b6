import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { openSecret, parseSecretKey, SecretKeyError, sealSecret } from './secrets';

test('a sealed secret opens with its key and reveals nothing in the sealed text', () => {
  const key = randomBytes(32);
  const sealed = sealSecret(key, 'token-secret-123');
  assert.ok(!sealed.includes('token-secret-123'));
  assert.equal(openSecret(key, sealed), 'token-secret-123');
  assert.notEqual(sealSecret(key, 'token-secret-123'), sealed, 'a fresh nonce every time');
});

test('a wrong key or tampered text is refused without echoing the secret', () => {
  const sealed = sealSecret(randomBytes(32), 'hunter2');
  assert.throws(
    () => openSecret(randomBytes(32), sealed),
    (error: Error) => {
      assert.ok(error instanceof SecretKeyError);
      assert.ok(!error.message.includes('hunter2'));
      return true;
    },
  );
  const parts = sealed.split('.');
  parts[3] = Buffer.from('tampered').toString('base64url');
  assert.throws(() => openSecret(randomBytes(32), parts.join('.')), SecretKeyError);
});

test('the key is 32 bytes as hex or base64', () => {
  assert.equal(parseSecretKey('ab'.repeat(32)).length, 32);
  assert.equal(parseSecretKey(randomBytes(32).toString('base64')).length, 32);
  assert.throws(() => parseSecretKey('short'), /32 bytes/);
});
