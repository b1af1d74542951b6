import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type SshPool, type SshTarget, SshTransferError } from '../src/index';
import { capturedPool, pinnedTarget, startSshd, type TestSshd } from './support';

let sshd: TestSshd;
let pool: SshPool;
let target: SshTarget;
/** sshd runs on this machine, so "remote" paths are local ones the test can inspect directly. */
let remoteDir: string;
let localDir: string;

before(async () => {
  sshd = await startSshd();
  target = pinnedTarget(sshd);
  pool = capturedPool().pool;
  remoteDir = mkdtempSync(join(tmpdir(), 'gd-sftp-remote-'));
  localDir = mkdtempSync(join(tmpdir(), 'gd-sftp-local-'));
});

after(async () => {
  pool.close();
  await sshd.stop();
  rmSync(remoteDir, { recursive: true, force: true });
  rmSync(localDir, { recursive: true, force: true });
});

const modeOf = (path: string) => statSync(path).mode & 0o777;

test('a buffer is uploaded with the requested mode', async () => {
  const remote = join(remoteDir, 'authorized_keys');
  await pool.upload(target, Buffer.from('ssh-ed25519 AAAA test\n'), remote, 0o600);
  assert.equal(readFileSync(remote, 'utf8'), 'ssh-ed25519 AAAA test\n');
  assert.equal(modeOf(remote), 0o600);
});

test('uploading over an existing file replaces its content and mode', async () => {
  const remote = join(remoteDir, 'script.sh');
  writeFileSync(remote, 'old content that is longer than the new one\n', { mode: 0o600 });
  await pool.upload(target, Buffer.from('#!/bin/sh\necho new\n'), remote, 0o755);
  assert.equal(readFileSync(remote, 'utf8'), '#!/bin/sh\necho new\n');
  assert.equal(modeOf(remote), 0o755);
  assert.equal((await pool.exec(target, [remote])).stdout, 'new\n');
});

test('a large local file goes up and comes back byte for byte', async () => {
  const content = randomBytes(3 * 1024 * 1024);
  const local = join(localDir, 'image.bin');
  writeFileSync(local, content);
  const remote = join(remoteDir, 'image.bin');
  await pool.upload(target, local, remote);
  assert.ok(readFileSync(remote).equals(content));
  assert.equal(modeOf(remote), 0o644);

  assert.ok((await pool.download(target, remote)).equals(content));
  const back = join(localDir, 'image.back');
  await pool.downloadTo(target, remote, back);
  assert.ok(readFileSync(back).equals(content));
});

test('a missing remote file is a transfer error naming the path', async () => {
  const missing = join(remoteDir, 'nope', 'missing.txt');
  const error = await pool.download(target, missing).catch((e) => e);
  assert.ok(error instanceof SshTransferError, String(error));
  assert.equal(error.remotePath, missing);
  assert.match(error.message, /No such file/);
});

test('an upload into a missing directory fails and leaves the connection usable', async () => {
  const error = await pool.upload(target, Buffer.from('x'), join(remoteDir, 'no', 'dir', 'f')).catch((e) => e);
  assert.ok(error instanceof SshTransferError, String(error));
  assert.equal((await pool.exec(target, ['echo', 'fine'])).stdout, 'fine\n');
});
