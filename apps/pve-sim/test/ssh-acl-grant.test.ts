/**
 * `pnpm sim` as a child process, driven with the real OpenSSH client (host key pinned through a
 * known_hosts file built from the info file): a grant made with `pveum acl modify` over SSH is
 * what the HTTP API then enforces.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, type RunningProcess, startProcess, waitFor } from '@glassdome/testkit';
import { sha256Fingerprint } from '../src/ssh/server/keys';

interface Info {
  apiUrl: string;
  node: string;
  sshPort: number;
  sshHostKeyFingerprint: string;
  sshHostPublicKey: string;
  sshPrivateKeyPath: string;
}

const dir = mkdtempSync(join(tmpdir(), 'pve-sim-ssh-acl-'));
let sim: RunningProcess;
let info: Info;

/** Runs a command line on the node with /usr/bin/ssh, refusing any host key but the pinned one. */
function ssh(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ssh', [...sshOptions(), command], (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** An interactive login (no command), typing `input` and waiting for the session to end. */
function sshInteractive(input: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn('ssh', sshOptions(), { stdio: ['pipe', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout }));
    child.stdin.end(input);
  });
}

function sshOptions(): string[] {
  return [
    '-i',
    info.sshPrivateKeyPath,
    '-p',
    String(info.sshPort),
    '-o',
    `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    'root@127.0.0.1',
  ];
}

async function apiGet(path: string, token: string): Promise<number> {
  const response = await fetch(`${info.apiUrl}/api2/json${path}`, {
    headers: { Authorization: `PVEAPIToken=${token}` },
  });
  await response.arrayBuffer();
  return response.status;
}

before(async () => {
  const infoFile = join(dir, 'info.json');
  sim = startProcess('node', ['--import', 'tsx', 'apps/pve-sim/src/main.ts'], {
    name: 'pve-sim',
    env: {
      PVE_SIM_PORT: '0',
      PVE_SIM_TLS: '0',
      PVE_SIM_SSH_PORT: String(await freePort()),
      PVE_SIM_GUEST_SSH_PORT: String(await freePort()),
      PVE_SIM_TIME_SCALE: '0.01',
      PVE_SIM_INFO_FILE: infoFile,
      LOG_LEVEL: 'warn',
    },
  });
  await sim.waitForOutput('pve-sim listening', 60_000);
  info = await waitFor('info file', () => JSON.parse(readFileSync(infoFile, 'utf8')) as Info);
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${info.sshPort} ${info.sshHostPublicKey}\n`);
});

after(async () => {
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the info file reports the SSH port, the host key fingerprint and a usable root key', async () => {
  assert.match(info.sshHostKeyFingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.equal(sha256Fingerprint(info.sshHostPublicKey), info.sshHostKeyFingerprint);
  assert.ok(sim.output().includes(info.sshHostKeyFingerprint), 'fingerprint printed at start');
  assert.deepEqual(await ssh('hostname && pveversion'), {
    code: 0,
    stdout: `${info.node}\npve-manager/8.4.14/b502d23c55afcba1 (running kernel: 6.8.12-9-pve)\n`,
    stderr: '',
  });
});

test('a host key that does not match the pinned one is refused by the client', async () => {
  const pinned = readFileSync(join(dir, 'known_hosts'), 'utf8');
  writeFileSync(
    join(dir, 'known_hosts'),
    `[127.0.0.1]:${info.sshPort} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM63rb09ene+RGHDwKakejk+/uPNFWJFr5oeqoDjv+CJ\n`,
  );
  try {
    const result = await ssh('true');
    assert.equal(result.code, 255);
    assert.match(result.stderr, /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  } finally {
    writeFileSync(join(dir, 'known_hosts'), pinned);
  }
});

test('pveum acl modify over SSH grants a privilege the HTTP API then honours', async () => {
  const setup = await ssh(
    `pveum user add auditor@pve --comment 'read only' && pveum user token add auditor@pve mon --privsep 0 --output-format json`,
  );
  assert.equal(setup.code, 0, setup.stderr);
  const token = JSON.parse(setup.stdout) as { 'full-tokenid': string; value: string };
  assert.equal(token['full-tokenid'], 'auditor@pve!mon');
  const credential = `${token['full-tokenid']}=${token.value}`;
  assert.equal(await apiGet(`/nodes/${info.node}/qemu/9000/config`, credential), 403);

  const grant = await ssh('pveum aclmod /vms/9000 -user auditor@pve -role PVEAuditor');
  assert.deepEqual(grant, { code: 0, stdout: '', stderr: '' });
  assert.equal(await apiGet(`/nodes/${info.node}/qemu/9000/config`, credential), 200);

  const permissions = await ssh('pveum user permissions auditor@pve --path /vms/9000 --output-format json');
  assert.equal(JSON.parse(permissions.stdout)['/vms/9000']['VM.Audit'], 1);

  const revoke = await ssh('pveum acl delete /vms/9000 --users auditor@pve --roles PVEAuditor');
  assert.equal(revoke.code, 0, revoke.stderr);
  assert.equal(await apiGet(`/nodes/${info.node}/qemu/9000/config`, credential), 403);
});

test('a role that does not exist is an error with exit 255', async () => {
  const result = await ssh('pveum acl modify / --users auditor@pve --roles NoSuchRole');
  assert.equal(result.code, 255);
  assert.match(result.stderr, /role 'NoSuchRole' does not exist/);
});

test('an interactive login shows a prompt, keeps the working directory between lines, and exits with exit', async () => {
  const session = await sshInteractive('cd /var/lib/vz\npwd\nqm list | wc -l\nexit 3\n');
  assert.equal(session.code, 3);
  assert.ok(session.stdout.startsWith(`root@${info.node}:~# `), session.stdout);
  // Without a terminal nothing is echoed, so each answer follows the prompt on its line.
  assert.match(session.stdout, /# \/var\/lib\/vz\n/);
  assert.match(session.stdout, /# 2\n/);
  assert.match(session.stdout, new RegExp(`root@${info.node}:/var/lib/vz# `));
});
