import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSimulator, type TestSimulator } from '@glassdome/testkit';
import { HostKeyMismatchError, loadPrivateKey, SshCommandError, type SshPool, type SshTarget } from '../src/index';
import { capturedPool } from './support';

let sim: TestSimulator;
let pool: SshPool;
let target: SshTarget;

before(async () => {
  // The simulator is an app; packages never import apps, so it runs as a child process like in production.
  sim = await startSimulator();
  target = {
    host: '127.0.0.1',
    port: sim.info.sshPort,
    username: 'root',
    privateKey: await loadPrivateKey(sim.info.sshPrivateKeyPath),
    hostKey: { kind: 'pinned', fingerprints: [sim.info.sshHostKeyFingerprint] },
  };
  pool = capturedPool().pool;
});

after(async () => {
  pool?.close();
  await sim?.stop();
});

test('waitForSsh reaches the simulated node', async () => {
  await pool.waitForSsh(target, { deadlineMs: 30_000, intervalMs: 100 });
});

test('qm list answers with the template VM and exit code 0', async () => {
  const result = await pool.exec(target, ['qm', 'list']);
  assert.equal(result.exitCode, 0);
  assert.match(result.stdout, /VMID NAME/);
  assert.match(result.stdout, /^\s+9000 /m);
});

test('qm config of a missing VM exits with 255 and says so on stderr', async () => {
  const result = await pool.exec(target, ['qm', 'config', '99999'], { allowFailure: true });
  assert.equal(result.exitCode, 255);
  assert.match(result.stderr, /99999/);
  const error = await pool.exec(target, ['qm', 'config', '99999']).catch((e) => e);
  assert.ok(error instanceof SshCommandError, String(error));
  assert.equal(error.exitCode, 255);
  assert.match(error.message, /qm exited with 255/);
});

test('hostile arguments pass the node shell literally and reach qm as one value', async () => {
  const hostile = ['; rm -rf /', '$(id)', "it's", 'a b'];
  const echoed = await pool.exec(target, ['printf', '%s\\n', ...hostile]);
  assert.equal(echoed.stdout, hostile.map((arg) => `${arg}\n`).join(''));
  const result = await pool.exec(target, ['qm', 'config', '9000; rm -rf /'], { allowFailure: true });
  assert.notEqual(result.exitCode, 0, 'an injected `qm config 9000` would have succeeded');
  assert.equal((await pool.exec(target, ['qm', 'list'])).exitCode, 0, 'the node still answers');
});

test('a wrong pinned host key is refused by the simulated node too', async () => {
  const { pool: other } = capturedPool();
  const wrong = { ...target, hostKey: { kind: 'pinned' as const, fingerprints: ['SHA256:wrong'] } };
  await assert.rejects(other.exec(wrong, ['qm', 'list']), HostKeyMismatchError);
  other.close();
});
