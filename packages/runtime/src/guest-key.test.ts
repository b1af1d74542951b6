import assert from 'node:assert/strict';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { generateGuestKey } from './guest-key';

test('every generated guest key is one ssh2 can read (its own generator fails about 1 in 256)', () => {
  for (let i = 0; i < 2000; i++) {
    const parsed = ssh2.utils.parseKey(generateGuestKey());
    assert.ok(!(parsed instanceof Error), String(parsed));
  }
});
