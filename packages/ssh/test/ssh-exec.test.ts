import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import { SshCommandError, SshOutputLimitError, type SshPool, type SshTarget, SshTimeoutError } from '../src/index';
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

test('stdout, stderr and a zero exit code come back separately', async () => {
  const result = await pool.exec(target, ['sh', '-c', 'echo out; echo err >&2']);
  assert.deepEqual(result, { stdout: 'out\n', stderr: 'err\n', exitCode: 0 });
});

test('a non-zero exit raises SshCommandError with the code and the end of stderr', async () => {
  const error = await pool.exec(target, ['sh', '-c', 'echo first >&2; echo "no such VM" >&2; exit 3']).catch((e) => e);
  assert.ok(error instanceof SshCommandError);
  assert.equal(error.exitCode, 3);
  assert.equal(error.stderrTail, 'first\nno such VM\n');
  assert.match(error.message, /sh exited with 3: no such VM$/);
});

test('a command ended by a signal reports the signal instead of an exit code', async () => {
  const error = await pool.exec(target, ['sh', '-c', 'kill -TERM $$']).catch((e) => e);
  assert.ok(error instanceof SshCommandError, String(error));
  assert.equal(error.exitCode, null);
  assert.equal(error.signal, 'SIGTERM');
  assert.match(error.message, /sh was killed by SIGTERM$/);
});

test('allowFailure returns the exit code instead of throwing', async () => {
  const result = await pool.exec(target, ['sh', '-c', 'exit 255'], { allowFailure: true });
  assert.equal(result.exitCode, 255);
});

test('large output arrives complete, both buffered and streamed', async () => {
  const chunks: Buffer[] = [];
  const result = await pool.exec(target, ['seq', '1', '300000'], { onStdout: (chunk) => chunks.push(chunk) });
  const expected = `${Array.from({ length: 300_000 }, (_, i) => i + 1).join('\n')}\n`;
  assert.equal(result.stdout.length, expected.length);
  assert.equal(result.stdout, expected);
  assert.ok(chunks.length > 1, 'output should arrive in several chunks');
  assert.equal(Buffer.concat(chunks).toString(), expected);
});

test('stderr is streamed to its own callback', async () => {
  const seen: string[] = [];
  await pool.exec(target, ['sh', '-c', 'echo warning >&2'], { onStderr: (chunk) => seen.push(chunk.toString()) });
  assert.deepEqual(seen, ['warning\n']);
});

test('stdin is delivered and then closed', async () => {
  const input = Buffer.from("line one\nline two with 'quotes' and $VARS\n");
  const result = await pool.exec(target, ['cat'], { stdin: input });
  assert.equal(result.stdout, input.toString());
  const empty = await pool.exec(target, ['wc', '-c']);
  assert.equal(empty.stdout.trim(), '0');
});

test('environment values reach the command literally', async () => {
  const result = await pool.exec(target, ['sh', '-c', 'printf %s "$GREETING"'], {
    env: { GREETING: '$(id); rm -rf /' },
  });
  assert.equal(result.stdout, '$(id); rm -rf /');
});

test('a timeout closes the channel, which ends a command that keeps writing', async () => {
  let remotePid = 0;
  const error = await pool
    .exec(target, ['sh', '-c', 'echo $$; while :; do echo tick; sleep 0.1; done'], {
      // Long enough for the command to start and print its pid on a loaded machine.
      timeoutMs: 3000,
      onStdout: (chunk) => {
        remotePid ||= Number.parseInt(chunk.toString(), 10);
      },
    })
    .catch((e) => e);
  assert.ok(error instanceof SshTimeoutError, String(error));
  assert.ok(remotePid > 0, 'the command should have printed its pid');
  // sshd runs on this machine, so the remote process is visible locally.
  await waitFor('remote loop to end', () => !isAlive(remotePid), { timeoutMs: 10_000 });
  assert.equal((await pool.exec(target, ['echo', 'still usable'])).stdout, 'still usable\n');
});

test('output beyond maxBufferBytes kills the command with SshOutputLimitError', async () => {
  const error = await pool.exec(target, ['seq', '1', '1000000'], { maxBufferBytes: 10_000 }).catch((e) => e);
  assert.ok(error instanceof SshOutputLimitError, String(error));
});

test('runScript sends the script on stdin to bash', async () => {
  const script = ['set -eu', 'name="glass dome"', 'echo "hello $name"', 'printf "%s\\n" "$#"'].join('\n');
  const result = await pool.runScript(target, script);
  assert.equal(result.stdout, 'hello glass dome\n0\n');
  const failing = await pool.runScript(target, 'set -e\nfalse\necho unreachable\n').catch((e) => e);
  assert.ok(failing instanceof SshCommandError);
  assert.equal(failing.exitCode, 1);
  assert.equal(failing.stdout, '');
});

test('runScript honours another interpreter', async () => {
  const result = await pool.runScript(target, 'echo $0', { interpreter: ['sh', '-s'] });
  assert.equal(result.stdout, 'sh\n');
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
