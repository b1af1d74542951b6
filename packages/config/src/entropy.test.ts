import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { weakApiKeyReason, weakSecretKeyReason } from './entropy';

test('GLASSDOME_SECRET_KEY: random 32 bytes pass as base64 and hex; typed and patterned keys fail', () => {
  for (let i = 0; i < 200; i++) {
    assert.equal(weakSecretKeyReason(randomBytes(32).toString('base64')), undefined);
    assert.equal(weakSecretKeyReason(randomBytes(32).toString('hex')), undefined);
  }
  assert.match(weakSecretKeyReason(`${'a'.repeat(43)}=`)!, /not random/);
  assert.match(weakSecretKeyReason(Buffer.alloc(32, 7).toString('base64'))!, /not random/);
  assert.match(weakSecretKeyReason('0123456789abcdef'.repeat(4))!, /not random/);
  assert.match(weakSecretKeyReason('not base64 at all, but long enough!!')!, /32 bytes/);
  assert.match(weakSecretKeyReason(randomBytes(24).toString('base64'))!, /32 bytes/);
});

test('admin keys: generated keys pass; repeats, few characters and low entropy fail', () => {
  assert.equal(weakApiKeyReason(`gd_${randomBytes(32).toString('base64url')}`), undefined);
  assert.equal(weakApiKeyReason(`gd_admin_${randomBytes(18).toString('hex')}`), undefined);
  assert.match(weakApiKeyReason('a'.repeat(30))!, /repeated pattern/);
  assert.match(weakApiKeyReason('changeme'.repeat(4))!, /repeated pattern/);
  assert.match(weakApiKeyReason(`${'a'.repeat(23)}b`)!, /distinct characters/);
  assert.match(weakApiKeyReason(`${'a'.repeat(26)}bcdefghi`)!, /predictable/);
  for (let i = 0; i < 200; i++) assert.equal(weakApiKeyReason(randomBytes(12).toString('hex')), undefined);
});
