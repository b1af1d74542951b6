import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactSecrets } from './index';

test('redactSecrets replaces secret-named fields at any depth, arrays included, and extra names on request', () => {
  const secret = 'PLANTED-secret';
  const value = {
    spec: { vms: [{ name: 'a', cloudInit: { user: 'u', password: secret } }] },
    Authorization: secret,
    confirm: secret,
  };
  const redacted = JSON.stringify(redactSecrets(value, ['confirm']));
  assert.ok(!redacted.includes(secret), redacted);
  assert.match(redacted, /"user":"u"/);
  assert.equal(value.spec.vms[0]!.cloudInit.password, secret, 'the original is left alone');
});
