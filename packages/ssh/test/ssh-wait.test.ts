import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import { HostKeyMismatchError, type SshTarget, SshTimeoutError } from '../src/index';
import { capturedPool, pinnedTarget, startSshd, startTcpProxy, type TcpProxy, type TestSshd } from './support';

let sshd: TestSshd;
let proxy: TcpProxy;
let target: SshTarget;

before(async () => {
  sshd = await startSshd();
  proxy = await startTcpProxy();
  target = pinnedTarget(sshd, { port: proxy.port });
});

after(async () => {
  await proxy.stop();
  await sshd.stop();
});

test('retries while the port answers without sshd, then succeeds and keeps the connection', async () => {
  proxy.forwardTo('hang-up');
  const { pool } = capturedPool();
  const before = proxy.accepted();
  const waiting = pool.waitForSsh(target, { deadlineMs: 60_000, intervalMs: 20 });
  await waitFor('three refused attempts', () => proxy.accepted() - before >= 3);
  proxy.forwardTo(sshd.port);
  await waiting;
  assert.ok(proxy.accepted() - before >= 4);
  assert.equal(pool.stats().connections, 1);
  const afterWait = proxy.accepted();
  await pool.exec(target, ['true']);
  assert.equal(proxy.accepted(), afterWait, 'the command reuses the connection waitForSsh opened');
  pool.close();
});

test('gives up at the deadline with SshTimeoutError saying how often it tried', async () => {
  proxy.forwardTo('hang-up');
  const { pool } = capturedPool();
  const error = await pool.waitForSsh(target, { deadlineMs: 300, intervalMs: 20 }).catch((e) => e);
  assert.ok(error instanceof SshTimeoutError, String(error));
  assert.match(error.message, /waiting for SSH timed out after 300 ms \(\d+ attempts; last error: /);
  assert.equal(pool.stats().hosts, 0, 'an unreachable host is not kept in the pool');
  pool.close();
});

test('a host that accepts but never speaks counts as a timed-out attempt, not a crash', async () => {
  proxy.forwardTo('silent');
  const { pool } = capturedPool();
  const error = await pool
    .waitForSsh(target, { deadlineMs: 600, attemptTimeoutMs: 200, intervalMs: 20 })
    .catch((e) => e);
  assert.ok(error instanceof SshTimeoutError, String(error));
  assert.match(error.message, /last error: .*connect timed out after \d+ ms/);
  proxy.dropAll();
  pool.close();
});

test('a host key mismatch fails at once instead of being retried', async () => {
  proxy.forwardTo(sshd.port);
  const { pool } = capturedPool();
  const before = proxy.accepted();
  const wrongKey = { ...target, hostKey: { kind: 'pinned' as const, fingerprints: ['SHA256:not-this-one'] } };
  await assert.rejects(pool.waitForSsh(wrongKey, { deadlineMs: 60_000, intervalMs: 20 }), HostKeyMismatchError);
  assert.equal(proxy.accepted() - before, 1);
  pool.close();
});

test('a refused key is retried until the guest has installed it (as cloud-init does)', async () => {
  proxy.forwardTo(sshd.port);
  const keyDir = mkdtempSync(join(tmpdir(), 'gd-ssh-wait-key-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'late')]);
    const lateTarget = { ...target, privateKey: readFileSync(join(keyDir, 'late'), 'utf8') };
    const { pool } = capturedPool();
    const before = proxy.accepted();
    const waiting = pool.waitForSsh(lateTarget, { deadlineMs: 60_000, intervalMs: 20 });
    await waitFor('two refused logins', () => proxy.accepted() - before >= 2);
    appendFileSync(join(sshd.dir, 'authorized_keys'), readFileSync(join(keyDir, 'late.pub')));
    await waiting;
    assert.equal((await pool.exec(lateTarget, ['echo', 'in'])).stdout, 'in\n');
    pool.close();
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
  }
});
