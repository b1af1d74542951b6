import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import { openConnection } from '../src/connection';
import { SshPoolClosedError, type SshTarget, SshTimeoutError } from '../src/index';
import { capturedPool, pinnedTarget, startSshd, startTcpProxy, type TcpProxy, type TestSshd } from './support';

let sshd: TestSshd;
let proxy: TcpProxy;
let target: SshTarget;
let scratch: string;

before(async () => {
  sshd = await startSshd();
  proxy = await startTcpProxy(sshd.port);
  target = pinnedTarget(sshd, { port: proxy.port });
  scratch = mkdtempSync(join(tmpdir(), 'gd-ssh-pool-'));
});

after(async () => {
  await proxy.stop();
  await sshd.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * A command that logs its start, waits (up to 5 s) until `expected` commands have started, then logs
 * its end: the first `expected` commands provably overlap, however slow the machine is.
 */
function barrierCommand(log: string, expected: number): string[] {
  const started = `$(grep -c start ${log})`;
  const wait = `i=0; while [ "${started}" -lt ${expected} ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done`;
  return ['sh', '-c', `echo start >> ${log}; ${wait}; echo end >> ${log}`];
}

/** Largest number of commands that were running at once, from their start/end lines in `path`. */
function maxOverlap(path: string): number {
  let running = 0;
  let most = 0;
  for (const line of readFileSync(path, 'utf8').trim().split('\n')) {
    running += line === 'start' ? 1 : -1;
    most = Math.max(most, running);
  }
  return most;
}

test('commands beyond the per-host bound wait their turn; connections are reused', async () => {
  const { pool } = capturedPool({ maxConnectionsPerHost: 2, maxChannelsPerConnection: 1 });
  const log = join(scratch, 'overlap.log');
  const acceptedBefore = proxy.accepted();
  const runs = Array.from({ length: 6 }, () => pool.exec(target, barrierCommand(log, 2)));
  await waitFor('callers queueing', () => pool.stats().waiting > 0);
  await Promise.all(runs);
  assert.equal(maxOverlap(log), 2, 'the server saw exactly two commands at once');
  assert.equal(proxy.accepted() - acceptedBefore, 2, 'six commands, two connections');
  assert.equal(pool.stats().connections, 2);
  pool.close();
});

test('several channels share one connection up to the channel bound', async () => {
  const { pool } = capturedPool({ maxConnectionsPerHost: 1, maxChannelsPerConnection: 3 });
  const log = join(scratch, 'channels.log');
  await Promise.all(Array.from({ length: 6 }, () => pool.exec(target, barrierCommand(log, 3))));
  assert.equal(maxOverlap(log), 3);
  assert.equal(pool.stats().connections, 1);
  pool.close();
});

test('an idle connection is closed and the host forgotten', async () => {
  const { pool } = capturedPool({ idleTimeoutMs: 100 });
  await pool.exec(target, ['true']);
  assert.equal(pool.stats().connections, 1);
  await waitFor('idle close', () => pool.stats().hosts === 0);
  assert.equal(pool.stats().connections, 0);
  await pool.exec(target, ['true']);
  pool.close();
});

test('a dropped connection is replaced by a new one on the next call', async () => {
  const { pool } = capturedPool();
  await pool.exec(target, ['true']);
  const acceptedBefore = proxy.accepted();
  proxy.dropAll();
  await waitFor('the pool to notice the drop', () => pool.stats().connections === 0);
  assert.equal((await pool.exec(target, ['echo', 'again'])).stdout, 'again\n');
  assert.equal(proxy.accepted(), acceptedBefore + 1);
  pool.close();
});

test('a command whose connection drops fails with a retryable connect error', async () => {
  const { pool } = capturedPool();
  // A command that keeps writing, so that it also ends on the server once its connection is gone.
  const running = pool.exec(target, ['sh', '-c', 'while :; do echo tick; sleep 0.1; done'], {
    onStdout: () => proxy.dropAll(),
  });
  const error = await running.catch((e) => e);
  assert.equal(error.name, 'SshConnectError', String(error));
  assert.equal(error.retryable, true);
  pool.close();
});

test('a server that closes the connection during the handshake fails the connect with a retryable error', async () => {
  // Sends its version line, then closes, as a guest's sshd may while the guest reboots: past the
  // version line ssh2 reports only the close (no error) and stops its own ready timer.
  const closer = createServer((socket) => socket.end('SSH-2.0-Closing\r\n'));
  await new Promise<void>((resolve) => closer.listen(0, '127.0.0.1', resolve));
  const port = (closer.address() as { port: number }).port;
  try {
    const connecting = openConnection({ ...target, port }, { connectTimeoutMs: 20_000, keepaliveIntervalMs: 5_000 });
    const outcome = await Promise.race([
      connecting.then(
        () => 'connected',
        (error: Error) => error,
      ),
      new Promise((resolve) => setTimeout(resolve, 5_000, 'still pending after 5 s')),
    ]);
    assert.ok(outcome instanceof Error, String(outcome));
    assert.equal(outcome.name, 'SshConnectError');
    assert.match(outcome.message, /closed during the handshake/);
    assert.equal((outcome as Error & { retryable?: boolean }).retryable, true);
  } finally {
    closer.close();
  }
});

test('a command on a connection that stopped answering times out', async () => {
  const { pool } = capturedPool();
  await pool.exec(target, ['true']);
  proxy.freezeAll();
  const error = await pool.exec(target, ['true'], { timeoutMs: 1000 }).catch((e) => e);
  assert.ok(error instanceof SshTimeoutError, String(error));
  assert.match(error.message, /no channel opened/);
  proxy.dropAll();
  pool.close();
});

test('a closed pool refuses new work', async () => {
  const { pool } = capturedPool();
  await pool.exec(target, ['true']);
  pool.close();
  await assert.rejects(pool.exec(target, ['true']), SshPoolClosedError);
  assert.equal(pool.stats().connections, 0);
});
