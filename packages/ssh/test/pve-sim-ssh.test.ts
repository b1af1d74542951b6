import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, type RunningProcess, startProcess, waitFor } from '@glassdome/testkit';
import { HostKeyMismatchError, loadPrivateKey, SshCommandError, type SshPool, type SshTarget } from '../src/index';
import { capturedPool } from './support';

/** What the simulator writes to PVE_SIM_INFO_FILE once it listens (the fields this test uses). */
interface SimInfo {
  sshPort?: number;
  sshHostKeyFingerprint: string;
  sshPrivateKeyPath: string;
}

const repoRoot = new URL('../../..', import.meta.url).pathname;
let sim: RunningProcess;
let dir: string;
let pool: SshPool;
let target: SshTarget;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gd-ssh-sim-'));
  const infoFile = join(dir, 'sim.json');
  // The simulator is an app; packages never import apps, so it runs as a child process like in production.
  sim = startProcess(process.execPath, ['--import', 'tsx', 'apps/pve-sim/src/main.ts'], {
    cwd: repoRoot,
    name: 'pve-sim',
    env: {
      PVE_SIM_PORT: '0',
      PVE_SIM_SSH_PORT: '0',
      PVE_SIM_GUEST_SSH_PORT: String(await freePort()),
      PVE_SIM_TLS: '0',
      PVE_SIM_TIME_SCALE: '0.01',
      PVE_SIM_INFO_FILE: infoFile,
      LOG_LEVEL: 'warn',
    },
  });
  const info = await waitFor(
    'the simulator to report its SSH port',
    () => {
      if (sim.child.exitCode !== null) throw new Error(`pve-sim exited: ${sim.output().slice(-2000)}`);
      if (!existsSync(infoFile)) return undefined;
      const parsed = JSON.parse(readFileSync(infoFile, 'utf8')) as SimInfo;
      return parsed.sshPort ? parsed : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  target = {
    host: '127.0.0.1',
    port: info.sshPort!,
    username: 'root',
    privateKey: await loadPrivateKey(info.sshPrivateKeyPath),
    hostKey: { kind: 'pinned', fingerprints: [info.sshHostKeyFingerprint] },
  };
  pool = capturedPool().pool;
});

after(async () => {
  pool?.close();
  await sim?.stop(5000);
  rmSync(dir, { recursive: true, force: true });
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
