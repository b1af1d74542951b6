import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attemptsThatDidNotHelp, decideRemediation, type RemediationPolicy } from './policy';

const policy: RemediationPolicy = {
  enabled: new Set(['start-vm', 'destroy-orphan']),
  maxAttempts: 3,
  backoffMs: 10_000,
  orphanGraceMs: 60_000,
};
const now = new Date('2026-01-01T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
const failed = (msAgo: number) => ({ ok: false, at: ago(msAgo) });

test('a first attempt runs at once', () => {
  const decision = decideRemediation(policy, 'start-vm', { now, alertFirstSeenAt: now, history: [] });
  assert.deepEqual(decision, { kind: 'run', attempt: 1 });
});

test('an action not enabled never runs', () => {
  const decision = decideRemediation(policy, 'reboot-vm', { now, alertFirstSeenAt: now, history: [] });
  assert.equal(decision.kind, 'disabled');
});

test('backoff doubles with each failure', () => {
  const afterOne = decideRemediation(policy, 'start-vm', { now, alertFirstSeenAt: now, history: [failed(5_000)] });
  assert.deepEqual(afterOne, { kind: 'backoff', untilMs: now.getTime() + 5_000 });
  const twoFailures = [failed(15_000), failed(40_000)];
  assert.deepEqual(decideRemediation(policy, 'start-vm', { now, alertFirstSeenAt: now, history: twoFailures }), {
    kind: 'backoff',
    untilMs: now.getTime() + 5_000,
  });
  const waitedEnough = [failed(20_000), failed(40_000)];
  assert.deepEqual(decideRemediation(policy, 'start-vm', { now, alertFirstSeenAt: now, history: waitedEnough }), {
    kind: 'run',
    attempt: 3,
  });
});

test('the breaker opens after max consecutive failures and stays open however long one waits', () => {
  const history = [failed(1_000_000), failed(2_000_000), failed(3_000_000)];
  assert.deepEqual(decideRemediation(policy, 'start-vm', { now, alertFirstSeenAt: now, history }), {
    kind: 'breaker-open',
    failures: 3,
  });
});

test('an attempt that ran to the end but left the finding in place counts as a failure', () => {
  const done = (msAgo: number) => ({ ok: true, at: ago(msAgo) });
  // A reboot that "worked" three times while SSH never came back: the breaker opens.
  const rebootLoop = [done(100_000), done(200_000), done(300_000)];
  assert.equal(attemptsThatDidNotHelp(rebootLoop, now), 3);
  assert.deepEqual(decideRemediation(policy, 'start-vm', { now, alertFirstSeenAt: now, history: rebootLoop }), {
    kind: 'breaker-open',
    failures: 3,
  });
  // One such attempt: backed off like a failure.
  const once = decideRemediation(policy, 'start-vm', { now, alertFirstSeenAt: now, history: [done(4_000)] });
  assert.deepEqual(once, { kind: 'backoff', untilMs: now.getTime() + 6_000 });
});

test('an attempt that ended after the scan began looking waits for the next scan to be judged', () => {
  const observedAt = ago(2_000);
  const justDone = [{ ok: true, at: ago(1_000) }, failed(100_000)];
  assert.equal(attemptsThatDidNotHelp(justDone, observedAt), 1);
  assert.deepEqual(
    decideRemediation(policy, 'start-vm', { now, observedAt, alertFirstSeenAt: now, history: justDone }),
    { kind: 'awaiting-effect' },
  );
});

test('an orphan is destroyed only after its grace period', () => {
  const young = decideRemediation(policy, 'destroy-orphan', { now, alertFirstSeenAt: ago(30_000), history: [] });
  assert.deepEqual(young, { kind: 'grace', untilMs: now.getTime() + 30_000 });
  const old = decideRemediation(policy, 'destroy-orphan', { now, alertFirstSeenAt: ago(60_000), history: [] });
  assert.equal(old.kind, 'run');
  const noGrace = { ...policy, orphanGraceMs: 0 };
  const seenByAFastClock = new Date(now.getTime() + 5);
  assert.equal(
    decideRemediation(noGrace, 'destroy-orphan', { now, alertFirstSeenAt: seenByAFastClock, history: [] }).kind,
    'run',
  );
});
