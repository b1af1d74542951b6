/**
 * A simulator stopped and started again with its state file keeps its guests as they were: the same
 * SSH host keys (node and guests), the files written over SSH and SFTP, installed packages, running
 * services and kernel parameters, and a guest that was up is up again at once (no second boot).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createLogger } from '@glassdome/logger';
import { freePort, waitFor } from '@glassdome/testkit';
import type { Client } from 'ssh2';
import { type RunningSimulator, startSimulator } from '../src/index';
import type { Simulator } from '../src/sim';
import { sshExtension } from '../src/ssh/extension';
import { generateEd25519, sha256Fingerprint } from '../src/ssh/server/keys';
import type { GuestDisk } from '../src/state/guest-disk';
import { connect, exec, openSftp, pinnedHostKey } from './ssh-harness';

const dir = mkdtempSync(join(tmpdir(), 'pve-sim-restart-'));
const stateFile = join(dir, 'state.json');
const alice = generateEd25519('alice@test');
const logger = createLogger({ name: 'pve-sim-restart-test', level: 'silent', format: 'json' });
const root = { userid: 'root@pam' };
const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41, 0x0a]);
after(() => rmSync(dir, { recursive: true, force: true }));

async function start(guestSshPort: number): Promise<RunningSimulator> {
  return startSimulator({
    port: 0,
    tls: false,
    timeScale: 0.01,
    sshPort: 0,
    guestSshPort,
    stateFile,
    extensions: [sshExtension({ logger, clientKeyPath: join(dir, 'root_ed25519') })],
  });
}

async function call(sim: Simulator, method: 'GET' | 'POST' | 'PUT', path: string, params = {}) {
  const result = await sim.dispatch({ method, path, params, auth: root });
  assert.equal(result.status, 200, `${method} ${path}: ${result.message}`);
  if (typeof result.data === 'string' && result.data.startsWith('UPID:')) {
    assert.equal((await sim.waitForTask(result.data)).exitstatus, 'OK');
  }
  return result.data;
}

async function cloneAndStart(sim: Simulator, vmid: number): Promise<void> {
  await call(sim, 'POST', '/nodes/pve01/qemu/9000/clone', { newid: String(vmid), name: `box-${vmid}` });
  await call(sim, 'PUT', `/nodes/pve01/qemu/${vmid}/config`, {
    ciuser: 'alice',
    sshkeys: encodeURIComponent(`${alice.publicKey}\n`),
  });
  await call(sim, 'POST', `/nodes/pve01/qemu/${vmid}/status/start`);
}

function hostKeyOf(sim: Simulator, vmid: number): string {
  const key = sim.state.vms[vmid]?.guest?.hostKey?.publicKey;
  assert.ok(key, `VM ${vmid} has a host key`);
  return sha256Fingerprint(key);
}

/** Logs in as alice, accepting only `fingerprint` as the guest's host key (retried until it listens). */
function login(sim: Simulator, vmid: number, port: number, fingerprint: string): Promise<Client> {
  return waitFor(`guest ${vmid} SSH`, async () => {
    const ip = sim.guest(vmid)?.ip;
    if (!ip) return undefined;
    return connect({
      host: ip,
      port,
      username: 'alice',
      privateKey: alice.privateKey,
      hostVerifier: pinnedHostKey(fingerprint),
    }).catch(() => undefined);
  });
}

function sftpWrite(client: Client, path: string, data: Buffer): Promise<void> {
  return openSftp(client).then(
    (sftp) => new Promise((resolve, reject) => sftp.writeFile(path, data, (e) => (e ? reject(e) : resolve()))),
  );
}

function sftpRead(client: Client, path: string): Promise<Buffer> {
  return openSftp(client).then(
    (sftp) => new Promise((resolve, reject) => sftp.readFile(path, (e, data) => (e ? reject(e) : resolve(data)))),
  );
}

test('guests keep their host keys, files, packages and services across a restart with the state file', async () => {
  const guestPort = await freePort();
  const first = await start(guestPort);
  let nodeFingerprint: string;
  const fingerprints = new Map<number, string>();
  try {
    nodeFingerprint = first.info.sshHostKeyFingerprint!;
    await cloneAndStart(first.sim, 201);
    await cloneAndStart(first.sim, 202);
    for (const vmid of [201, 202]) {
      await waitFor(`guest ${vmid} disk`, () => first.sim.state.vms[vmid]?.guest?.hostKey);
      fingerprints.set(vmid, hostKeyOf(first.sim, vmid));
    }
    const client = await login(first.sim, 201, guestPort, fingerprints.get(201)!);
    try {
      const script = [
        'echo kept > /home/alice/note.txt',
        'sudo apt-get install -y nginx',
        'sudo systemctl enable --now nginx',
        'sudo sysctl -w net.ipv4.ip_forward=1',
        'sudo rm /etc/hostname',
        'sudo mkdir -p /srv/app/conf',
        'echo port=8080 | sudo tee /srv/app/conf/app.ini',
      ].join(' && ');
      const result = await exec(client, script);
      assert.equal(result.code, 0, result.stderr);
      await sftpWrite(client, '/tmp/blob.bin', binary);
    } finally {
      client.end();
    }
    // VM 202 is stopped before the save: its disk is kept all the same.
    const other = await login(first.sim, 202, guestPort, fingerprints.get(202)!);
    assert.equal((await exec(other, 'echo second > /home/alice/other.txt')).code, 0);
    other.end();
    await call(first.sim, 'POST', '/nodes/pve01/qemu/202/status/stop');
  } finally {
    await first.stop();
  }

  // The file keeps only what the guests changed over their base image.
  const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
  const disk: GuestDisk = saved.state.vms['201'].guest;
  assert.equal(disk.files['/home/alice/note.txt']?.type, 'file');
  assert.equal(disk.files['/etc/hostname'], null, 'a deleted base file is saved as a deletion');
  assert.equal(disk.files['/etc/os-release'], undefined, 'unchanged base files are not saved');
  assert.equal(saved.state.vms['9000'].guest, undefined, 'a template never booted has no disk record');

  const second = await start(guestPort);
  try {
    assert.equal(second.info.sshHostKeyFingerprint, nodeFingerprint, 'the node keeps its host key');
    assert.equal(second.sim.guest(201)?.up, true, 'a guest that was up is up at once, without a second boot');
    const client = await login(second.sim, 201, guestPort, fingerprints.get(201)!);
    try {
      const checks = await exec(
        client,
        [
          'cat /home/alice/note.txt /srv/app/conf/app.ini',
          'dpkg -s nginx | grep Status',
          'systemctl is-active nginx',
          'sysctl net.ipv4.ip_forward',
          'test ! -e /etc/hostname && echo hostname-gone',
          'grep -c VERSION_ID /etc/os-release',
        ].join(' && '),
      );
      assert.equal(
        checks.stdout,
        'kept\nport=8080\nStatus: install ok installed\nactive\nnet.ipv4.ip_forward = 1\nhostname-gone\n1\n',
        checks.stderr,
      );
      assert.deepEqual(await sftpRead(client, '/tmp/blob.bin'), binary);
    } finally {
      client.end();
    }
    assert.equal(second.sim.guest(202)?.status, 'stopped');
    await call(second.sim, 'POST', '/nodes/pve01/qemu/202/status/start');
    const other = await login(second.sim, 202, guestPort, fingerprints.get(202)!);
    try {
      assert.equal((await exec(other, 'cat /home/alice/other.txt')).stdout, 'second\n');
    } finally {
      other.end();
    }
  } finally {
    await second.stop();
  }
});

test('POST /_sim/load while running brings the guests back to the saved disks, keeping their host keys', async () => {
  const guestPort = await freePort();
  const running = await start(guestPort);
  const admin = (path: string) =>
    fetch(`${running.adminUrl}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${running.info.adminSecret}`, 'Content-Type': 'application/json' },
      body: '{}',
    }).then((response) => assert.equal(response.status, 200));
  try {
    // The state file holds VMs 201 and 202 from the test above.
    const key = hostKeyOf(running.sim, 201);
    const before = await login(running.sim, 201, guestPort, key);
    assert.equal((await exec(before, 'echo saved > /home/alice/load.txt')).code, 0);
    before.end();
    await admin('/save');
    const changed = await login(running.sim, 201, guestPort, key);
    assert.equal((await exec(changed, 'echo unsaved > /home/alice/load.txt && touch /home/alice/extra')).code, 0);
    changed.end();

    await admin('/load');
    const after = await login(running.sim, 201, guestPort, key);
    try {
      const result = await exec(after, 'cat /home/alice/load.txt; test -e /home/alice/extra || echo extra-gone');
      assert.equal(result.stdout, 'saved\nextra-gone\n');
    } finally {
      after.end();
    }
  } finally {
    await running.stop();
  }
});

test('a snapshot keeps its guest files across a restart: a rollback afterwards brings them back', async () => {
  const guestPort = await freePort();
  const first = await start(guestPort);
  // VM 201 from the tests above, up with alice's key.
  const key = hostKeyOf(first.sim, 201);
  try {
    const client = await login(first.sim, 201, guestPort, key);
    try {
      assert.equal((await exec(client, 'echo at-snapshot > /home/alice/snap.txt')).code, 0);
    } finally {
      client.end();
    }
    await call(first.sim, 'POST', '/nodes/pve01/qemu/201/snapshot', { snapname: 'before' });
    const later = await login(first.sim, 201, guestPort, key);
    try {
      assert.equal((await exec(later, 'echo after > /home/alice/snap.txt && touch /home/alice/later')).code, 0);
    } finally {
      later.end();
    }
  } finally {
    await first.stop();
  }
  const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
  assert.ok(saved.state.vms['201'].snapshots.before.guest, 'the snapshot’s guest disk is in the state file');

  const second = await start(guestPort);
  try {
    const kept = await login(second.sim, 201, guestPort, key);
    try {
      assert.equal(
        (await exec(kept, 'cat /home/alice/snap.txt')).stdout,
        'after\n',
        'the restart keeps the current disk',
      );
    } finally {
      kept.end();
    }
    await call(second.sim, 'POST', '/nodes/pve01/qemu/201/snapshot/before/rollback', { start: '1' });
    const back = await login(second.sim, 201, guestPort, key);
    try {
      const result = await exec(back, 'cat /home/alice/snap.txt; test -e /home/alice/later || echo later-gone');
      assert.equal(result.stdout, 'at-snapshot\nlater-gone\n', 'the snapshot taken before the restart');
    } finally {
      back.end();
    }
    assert.equal(hostKeyOf(second.sim, 201), key, 'the same machine');
  } finally {
    await second.stop();
  }
});
