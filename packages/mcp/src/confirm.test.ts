import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfirmationRefused, Confirmations, canonicalJson } from './confirm';

const plan = { action: 'destroy', lab: { id: 'a', name: 'web' }, vms: [{ name: 'target', vmid: 1001 }] };

function refusal(run: () => void): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfirmationRefused, String(error));
    return error.reason;
  }
  assert.fail('the token was accepted');
}

test('canonical JSON does not depend on key order and drops undefined fields', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }),
    '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
  );
  assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
});

test('a token acts once, for the plan and key it was issued for, with the keys in any order', () => {
  const confirmations = new Confirmations();
  const { token } = confirmations.issue(plan, 'key-1');
  confirmations.redeem(
    token,
    { vms: [{ vmid: 1001, name: 'target' }], lab: { name: 'web', id: 'a' }, action: 'destroy' },
    'key-1',
  );
  assert.equal(
    refusal(() => confirmations.redeem(token, plan, 'key-1')),
    'used',
  );
});

test('another key, a changed plan, an altered or made-up token are refused, each with its reason', () => {
  const confirmations = new Confirmations();
  const { token } = confirmations.issue(plan, 'key-1');
  assert.equal(
    refusal(() => confirmations.redeem(token, plan, 'key-2')),
    'forged',
  );
  assert.equal(
    refusal(() => confirmations.redeem(token, { ...plan, vms: [] }, 'key-1')),
    'plan-changed',
  );
  const [expiry, digest, nonce, mac] = token.split('.') as [string, string, string, string];
  const later = `${Number(expiry) + 3_600_000}.${digest}.${nonce}.${mac}`;
  assert.equal(
    refusal(() => confirmations.redeem(later, plan, 'key-1')),
    'forged',
  );
  // Every other last character, including those that decode to the same MAC bytes (its low two
  // bits are padding in base64url), is an altered token.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (const last of alphabet.replace(mac.slice(-1), '')) {
    const altered = `${expiry}.${digest}.${nonce}.${mac.slice(0, -1)}${last}`;
    assert.equal(
      refusal(() => confirmations.redeem(altered, plan, 'key-1')),
      'forged',
    );
  }
  assert.equal(
    refusal(() => confirmations.redeem('yes please', plan, 'key-1')),
    'malformed',
  );
  // A token of another process (another secret) is worthless here.
  const other = new Confirmations().issue(plan, 'key-1').token;
  assert.equal(
    refusal(() => confirmations.redeem(other, plan, 'key-1')),
    'forged',
  );
  // None of the refusals used the real token up.
  confirmations.redeem(token, plan, 'key-1');
});

test('a token is refused once its lifetime is over', () => {
  let now = 1_700_000_000_000;
  const confirmations = new Confirmations({ ttlMs: 60_000, now: () => now });
  const { token, expiresAt } = confirmations.issue(plan, 'key-1');
  assert.equal(expiresAt, new Date(now + 60_000).toISOString());
  now += 60_001;
  assert.equal(
    refusal(() => confirmations.redeem(token, plan, 'key-1')),
    'expired',
  );
});
