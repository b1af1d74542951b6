/**
 * A remote command dies with its timeout or its caller's signal, even when it prints nothing and runs
 * as root (where OpenSSH refuses channel signals), children included; the pool stays usable.
 */
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { after, before, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import { type SshPool, type SshTarget, SshTimeoutError } from '../src/index';
import { capturedPool, pinnedTarget, startSshd, type TestSshd } from './support';

let sshd: TestSshd;
let pool: SshPool;
let target: SshTarget;

before(async () => {
  sshd = await startSshd();
  target = pinnedTarget(sshd);
  pool = capturedPool().pool;
});

after(async () => {
  pool.close();
  await sshd.stop();
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A command that prints the pids of itself and of a background child, then stays silent. */
const silentWithChild = ['sh', '-c', 'sleep 300 & echo $$ $!; wait'];

function pidsFrom(chunk: Buffer, into: number[]): void {
  if (into.length > 0) return;
  into.push(...chunk.toString().trim().split(/\s+/).map(Number));
}

test('the sshd of these tests logs us in as root, where channel signals are refused', () => {
  assert.equal(userInfo().uid, 0, 'run as root: the case this file is about');
});

test('a silent command is killed at its timeout, children included', async () => {
  const pids: number[] = [];
  const error = await pool
    .exec(target, silentWithChild, { timeoutMs: 3_000, onStdout: (chunk) => pidsFrom(chunk, pids) })
    .catch((e) => e);
  assert.ok(error instanceof SshTimeoutError, String(error));
  assert.equal(pids.length, 2, 'the command printed its pids');
  await waitFor('remote processes to end', () => pids.every((pid) => !isAlive(pid)), { timeoutMs: 10_000 });
  assert.equal((await pool.exec(target, ['echo', 'still usable'])).stdout, 'still usable\n');
});

test("a caller's signal kills a running command and rejects with the signal's reason", async () => {
  const pids: number[] = [];
  const controller = new AbortController();
  const reason = new Error('lock lost');
  const running = pool.exec(target, silentWithChild, {
    timeoutMs: 300_000,
    signal: controller.signal,
    onStdout: (chunk) => pidsFrom(chunk, pids),
  });
  await waitFor('the command to start', () => pids.length === 2);
  controller.abort(reason);
  await assert.rejects(running, (error) => error === reason);
  await waitFor('remote processes to end', () => pids.every((pid) => !isAlive(pid)), { timeoutMs: 10_000 });
});

test('a pool bound with withSignal stops its commands, and refuses new ones once the signal fired', async () => {
  const pids: number[] = [];
  const controller = new AbortController();
  const bound = pool.withSignal(controller.signal);
  const running = bound.exec(target, silentWithChild, { onStdout: (chunk) => pidsFrom(chunk, pids) });
  await waitFor('the command to start', () => pids.length === 2);
  controller.abort(new Error('shutdown'));
  await assert.rejects(running, /shutdown/);
  await waitFor('remote processes to end', () => pids.every((pid) => !isAlive(pid)), { timeoutMs: 10_000 });
  await assert.rejects(bound.exec(target, ['true']), /shutdown/);
  await assert.rejects(bound.upload(target, Buffer.from('x'), `${sshd.dir}/never`), /shutdown/);
  assert.equal((await pool.exec(target, ['echo', 'unbound'])).stdout, 'unbound\n');
});

test("the command's own stderr arrives whole, without the wrapper's line", async () => {
  const streamed: string[] = [];
  const result = await pool.exec(target, ['sh', '-c', 'echo one >&2; echo two >&2; exit 4'], {
    allowFailure: true,
    onStderr: (chunk) => streamed.push(chunk.toString()),
  });
  assert.equal(result.stderr, 'one\ntwo\n');
  assert.equal(streamed.join(''), 'one\ntwo\n');
  assert.equal(result.exitCode, 4);
});
