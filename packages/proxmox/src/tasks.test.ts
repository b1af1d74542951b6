import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameterError } from './errors';
import { isSuccessfulExit, parseUpid } from './tasks';

test('parses a real clone UPID, token user included', () => {
  const upid = parseUpid('UPID:pve-mp:00000ACD:00006AE8:679A423B:qmclone:112:capmox@pve!capi:');
  assert.equal(upid.node, 'pve-mp');
  assert.equal(upid.pid, 0xacd);
  assert.equal(upid.pstart, 0x6ae8);
  assert.equal(upid.startedAt.getTime(), 0x679a423b * 1000);
  assert.equal(upid.type, 'qmclone');
  assert.equal(upid.id, '112');
  assert.equal(upid.user, 'capmox@pve!capi');
});

test('accepts an empty id and a 9-digit pstart; rejects anything else', () => {
  assert.equal(parseUpid('UPID:pve:0000ABCD:123456789:679A423B:vncproxy::root@pam:').id, '');
  for (const bad of ['UPID:pve:0000ABCD:12345678:679A423B:qmstart:100:root@pam', 'nope', '']) {
    assert.throws(() => parseUpid(bad), InvalidParameterError);
  }
});

test('OK and WARNINGS are successful endings', () => {
  assert.equal(isSuccessfulExit('OK'), true);
  assert.equal(isSuccessfulExit('WARNINGS: 2'), true);
  assert.equal(isSuccessfulExit('clone failed: got timeout'), false);
});
