import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { generateApiKey, hashApiKey, keyPrefix, roleAtLeast } from './keys';

test('generated keys are distinct, url-safe and stored only as a 64-hex-digit hash', () => {
  const keys = new Set(Array.from({ length: 100 }, generateApiKey));
  assert.equal(keys.size, 100);
  for (const key of keys) {
    assert.match(key, /^gd_[A-Za-z0-9_-]{43}$/);
    assert.match(hashApiKey(key), /^[0-9a-f]{64}$/);
    assert.ok(!hashApiKey(key).includes(key.slice(3)));
    assert.equal(keyPrefix(key).length, 10);
  }
});

test('roles are ordered viewer < operator < admin; unknown roles get nothing', () => {
  assert.ok(roleAtLeast('admin', 'operator'));
  assert.ok(roleAtLeast('operator', 'operator'));
  assert.ok(!roleAtLeast('viewer', 'operator'));
  assert.ok(!roleAtLeast('operator', 'admin'));
  assert.ok(!roleAtLeast('root', 'viewer'));
});

test('a key hashes to its SHA-256 in hex, as stored keys were hashed', () => {
  assert.equal(hashApiKey('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const key = generateApiKey();
  assert.equal(hashApiKey(key), createHash('sha256').update(key, 'utf8').digest('hex'));
});
