import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SshAuthError, SshCommandError, type SshPool, type SshTarget, SshTimeoutError } from '../src/index';
import { capturedPool, pinnedTarget, startSshd, type TestSshd } from './support';

let sshd: TestSshd;
let pool: SshPool;
let logText: () => string;
let target: SshTarget;
let keyDir: string;
const secret = `s3cret-${randomBytes(12).toString('hex')}`;
const errors: unknown[] = [];

/** Every string a caller, a log shipper or a job record could see from this error. */
function everythingShown(error: unknown): string {
  const fields = error instanceof Error ? { ...error, message: error.message, stack: error.stack } : error;
  return `${String(error)}\n${JSON.stringify(fields)}`;
}

/** Body lines of a PEM/OpenSSH private key: any of them appearing would leak key material. */
function keyBodyLines(privateKey: string): string[] {
  return privateKey.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
}

before(async () => {
  sshd = await startSshd();
  target = pinnedTarget(sshd);
  ({ pool, logText } = capturedPool());
  keyDir = mkdtempSync(join(tmpdir(), 'gd-ssh-secrets-'));
});

after(async () => {
  pool.close();
  await sshd.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

test('commands carrying a secret succeed, fail and time out without the secret in errors', async () => {
  await pool.exec(target, ['sh', '-c', 'exit 0', 'sh', `--password=${secret}`]);
  await pool.runScript(target, `PASSWORD='${secret}'\ntest -n "$PASSWORD"\n`);
  const failed = await pool.exec(target, ['sh', '-c', 'exit 7', 'sh', secret]).catch((e) => e);
  assert.ok(failed instanceof SshCommandError);
  errors.push(failed);
  const timedOut = await pool
    .exec(target, ['sh', '-c', 'while :; do echo .; sleep 0.1; done', 'sh', secret], { timeoutMs: 300 })
    .catch((e) => e);
  assert.ok(timedOut instanceof SshTimeoutError);
  errors.push(timedOut);
  await pool.exec(target, ['true'], { env: { API_TOKEN: secret } });
  await pool.upload(target, Buffer.from(secret), join(keyDir, 'uploaded'), 0o600);
});

test('a refused key yields an error without key material', async () => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'stranger')]);
  const stranger = readFileSync(join(keyDir, 'stranger'), 'utf8');
  const error = await pool.exec({ ...target, privateKey: stranger }, ['true']).catch((e) => e);
  assert.ok(error instanceof SshAuthError, String(error));
  errors.push(error);
  for (const line of keyBodyLines(stranger)) assert.ok(!everythingShown(error).includes(line));
});

test('neither the log nor any error holds the secret or the private key', () => {
  const log = logText();
  assert.match(log, /ssh command finished/, 'the pool logged at debug level, so the check below means something');
  assert.match(log, /"program":"sh"/);
  assert.ok(!log.includes(secret), 'secret found in the log');
  for (const error of errors) assert.ok(!everythingShown(error).includes(secret), `secret in ${String(error)}`);
  for (const line of keyBodyLines(sshd.privateKey)) {
    assert.ok(!log.includes(line), 'private key material found in the log');
    for (const error of errors) assert.ok(!everythingShown(error).includes(line));
  }
});
