import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ECDSA_KEY, ED25519_KEY, RSA_KEY } from '../test-fixtures';
import { durationSeconds, formatDuration } from './duration';
import { guestCapacity, overlaps, parseCidr, parseIpv4 } from './ipv4';
import { isOpenSshPublicKey } from './ssh-key';

test('OpenSSH public keys: real ones pass, lookalikes do not', () => {
  for (const key of [ED25519_KEY, RSA_KEY, ECDSA_KEY, ED25519_KEY.split(' ').slice(0, 2).join(' ')]) {
    assert.ok(isOpenSshPublicKey(key), key);
  }
  const [, blob] = ED25519_KEY.split(' ');
  for (const key of [
    `ssh-rsa ${blob} mislabelled`,
    `ssh-ed25519 ${blob!.slice(0, 40)} truncated`,
    'ssh-ed25519 AAAA… trainee',
    `ssh-dss ${blob}`,
    `${ED25519_KEY}\nssh-ed25519 ${blob}`,
    '',
    'ssh-ed25519',
  ]) {
    assert.equal(isOpenSshPublicKey(key), false, key);
  }
});

test('IPv4 parsing refuses what tools would read differently', () => {
  assert.equal(parseIpv4('10.0.0.1'), 0x0a000001);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['010.0.0.1', '1.2.3', '1.2.3.4.5', '256.0.0.1', ' 1.2.3.4', '1.2.3.-4', '']) {
    assert.equal(parseIpv4(bad), undefined, bad);
  }
  assert.deepEqual(parseCidr('10.1.2.3/16'), { address: 0x0a010203, prefix: 16, base: 0x0a010000 });
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('10.0.0.0/08'), undefined);
  assert.ok(overlaps(parseCidr('10.0.0.0/8')!, parseCidr('10.200.0.0/24')!));
  assert.ok(!overlaps(parseCidr('10.0.0.0/24')!, parseCidr('10.0.1.0/24')!));
  assert.equal(guestCapacity(parseCidr('10.0.0.0/29')!), 5);
});

test('durations: minutes, hours, days', () => {
  assert.equal(durationSeconds('30m'), 1800);
  assert.equal(durationSeconds('8h'), 28800);
  assert.equal(durationSeconds('2d'), 172800);
  for (const bad of ['0h', '1.5h', '8', 'h', '8H', '1w', '-1d']) assert.equal(durationSeconds(bad), undefined, bad);
  assert.equal(formatDuration(604800), '7d');
  assert.equal(formatDuration(5400), '90m');
});
