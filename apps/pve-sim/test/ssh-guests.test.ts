import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import type { Client } from 'ssh2';
import type { GuestEffect } from '../src/ssh';
import { generateEd25519, sha256Fingerprint } from '../src/ssh/server/keys';
import { connect, exec, openSftp, pinnedHostKey, type SshHarness, startSshHarness } from './ssh-harness';

let harness: SshHarness;
const alice = generateEd25519('alice@test');
const stranger = generateEd25519('stranger@test');

/** Clones the template into `vmid` with cloud-init user and key, starts it, and waits for its SSH. */
async function bootGuest(vmid: number, name: string, user: string): Promise<string> {
  const steps = [
    `qm clone 9000 ${vmid} --name ${name}`,
    `qm set ${vmid} --ciuser ${user} --sshkeys /root/${user}.pub`,
    `qm start ${vmid}`,
  ];
  const pub = await harness.node(`cat > /root/${user}.pub`, `${alice.publicKey}\n`);
  assert.equal(pub.code, 0, pub.stderr);
  const result = await harness.node(steps.join(' && '));
  assert.equal(result.code, 0, result.stderr);
  return harness.guestUp(vmid);
}

/** Logs in to a guest, pinning the host key the guest generated at first boot. */
function login(vmid: number, username: string, privateKey: string): Promise<Client> {
  const hostKey = harness.ssh.guests.machine(vmid)!.hostKey.publicKey;
  const ip = harness.sim.guest(vmid)?.ip ?? '127.0.0.1';
  return connect({
    host: ip,
    port: harness.guestPort,
    username,
    privateKey,
    hostVerifier: pinnedHostKey(sha256Fingerprint(hostKey)),
  });
}

function effects(vmid: number): GuestEffect[] {
  return (harness.sim.state.guestEffects[vmid] ?? []) as GuestEffect[];
}

before(async () => {
  harness = await startSshHarness();
});
after(() => harness.stop());

test('a running guest accepts its cloud-init user and key, and refuses a wrong key or user', async () => {
  const ip = await bootGuest(131, 'web-131', 'alice');
  assert.match(ip, /^127\.64\./);
  const client = await login(131, 'alice', alice.privateKey);
  try {
    assert.deepEqual(await exec(client, 'id -un && hostname'), { code: 0, stdout: 'alice\nweb-131\n', stderr: '' });
    assert.deepEqual(await exec(client, 'cloud-init status --wait'), { code: 0, stdout: 'status: done\n', stderr: '' });
  } finally {
    client.end();
  }
  await assert.rejects(login(131, 'alice', stranger.privateKey), /authentication methods failed/);
  await assert.rejects(login(131, 'root', alice.privateKey), /authentication methods failed/);
});

test('os-release follows the guest OS: the Ubuntu template, or a Kali VM', async () => {
  const ubuntu = await login(131, 'alice', alice.privateKey);
  const ubuntuRelease = await exec(ubuntu, 'cat /etc/os-release');
  ubuntu.end();
  assert.match(ubuntuRelease.stdout, /^VERSION_ID="22\.04"$/m);
  await bootGuest(132, 'kali-attacker', 'trainee');
  const kali = await login(132, 'trainee', alice.privateKey);
  try {
    assert.match((await exec(kali, 'cat /etc/os-release')).stdout, /^ID=kali$/m);
    assert.match((await exec(kali, 'uname -a')).stdout, /^Linux kali-attacker 6\.8\.11-amd64 .* GNU\/Linux\n$/);
  } finally {
    kali.end();
  }
});

test('package installs, services and file writes are recorded per VM', async () => {
  const client = await login(131, 'alice', alice.privateKey);
  try {
    const denied = await exec(client, 'apt-get install -y nginx');
    assert.equal(denied.code, 100, 'not root without sudo');
    const installed = await exec(
      client,
      'sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y nginx',
    );
    assert.equal(installed.code, 0, installed.stderr);
    const service = await exec(client, 'sudo systemctl enable --now nginx && systemctl is-active nginx');
    assert.equal(service.stdout, 'active\n');
    assert.equal((await exec(client, 'echo hi > /etc/motd')).code, 2, 'plain user cannot write /etc');
    const teed = await exec(client, 'sudo tee /etc/app.conf >/dev/null && sudo chmod 640 /etc/app.conf', 'port=8080\n');
    assert.equal(teed.code, 0, teed.stderr);
    assert.equal((await exec(client, 'bash -lc "test -f /etc/app.conf && exit 7"')).code, 7);
  } finally {
    client.end();
  }
  const recorded = effects(131);
  assert.ok(recorded.some((effect) => effect.kind === 'package-installed' && effect.name === 'nginx'));
  assert.ok(
    recorded.some((effect) => effect.kind === 'service' && effect.name === 'nginx' && effect.action === 'enable'),
  );
  const file = recorded.findLast((effect) => effect.kind === 'file-written' && effect.path === '/etc/app.conf');
  assert.deepEqual(
    file && { content: file.kind === 'file-written' && file.content, mode: file.kind === 'file-written' && file.mode },
    {
      content: 'port=8080\n',
      mode: '0640',
    },
  );
  const commands = recorded
    .filter((effect) => effect.kind === 'command')
    .map((effect) => effect.kind === 'command' && effect.exitCode);
  assert.ok(commands.includes(100) && commands.includes(0));
});

test("the installer's quoted argv forms work: sudo env VAR=… apt-get, sudo sh -c with markers", async () => {
  const client = await login(131, 'alice', alice.privateKey);
  try {
    const install = await exec(
      client,
      "'sudo' 'env' 'DEBIAN_FRONTEND=noninteractive' 'apt-get' 'install' '-y' 'apache2' 'mariadb-server'",
    );
    assert.equal(install.code, 0, install.stderr);
    const script =
      "sudo sh -c 'systemctl enable --now apache2 mariadb && mkdir -p /var/lib/glassdome/provision && echo done > /var/lib/glassdome/provision/m-0'";
    assert.equal((await exec(client, script)).code, 0);
    assert.equal((await exec(client, 'sudo test -e /var/lib/glassdome/provision/m-0')).code, 0);
    assert.equal((await exec(client, 'test -e /var/lib/glassdome/provision/m-1')).code, 1);
    assert.deepEqual(await exec(client, 'systemctl is-active apache2 mariadb'), {
      code: 0,
      stdout: 'active\nactive\n',
      stderr: '',
    });
    const masked = await exec(client, 'sudo systemctl mask apache2 && sudo systemctl start apache2');
    assert.equal(masked.code, 1);
    assert.match(masked.stderr, /Unit apache2\.service is masked/);
    const sql = 'sudo sh -c "mysql <<\'SQL\'\nCREATE DATABASE IF NOT EXISTS shop;\nSQL\n"';
    assert.deepEqual(await exec(client, sql), { code: 0, stdout: '', stderr: '' }, 'mysql comes with mariadb-server');
    assert.equal((await exec(client, 'samba-tool domain info 127.0.0.1')).code, 127, 'samba is not installed');
    const unknown = await exec(client, 'sudo systemctl enable --now nosuchd');
    assert.deepEqual(unknown, {
      code: 1,
      stdout: '',
      stderr: 'Failed to enable unit: Unit file nosuchd.service does not exist.\n',
    });
  } finally {
    client.end();
  }
});

test('SFTP writes land in the guest filesystem and are recorded with content and mode', async () => {
  const client = await login(131, 'alice', alice.privateKey);
  try {
    const sftp = await openSftp(client);
    await new Promise<void>((resolve, reject) =>
      sftp.writeFile('/home/alice/deploy.sh', '#!/bin/sh\necho deployed\n', { mode: 0o755 }, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    const back = await new Promise<string>((resolve, reject) =>
      sftp.readFile('/home/alice/deploy.sh', (error, data) => (error ? reject(error) : resolve(data.toString()))),
    );
    assert.equal(back, '#!/bin/sh\necho deployed\n');
    await assert.rejects(
      new Promise<void>((resolve, reject) =>
        sftp.writeFile('/etc/shadow-copy', 'x', (error) => (error ? reject(error) : resolve())),
      ),
      /Permission denied/,
    );
    assert.deepEqual(await exec(client, 'sh deploy.sh && test -x deploy.sh'), {
      code: 0,
      stdout: 'deployed\n',
      stderr: '',
    });
    const local = mkdtempSync(join(tmpdir(), 'pve-sim-sftp-'));
    try {
      const payload = Buffer.alloc(100_000, 'a');
      writeFileSync(join(local, 'big.bin'), payload);
      await new Promise<void>((resolve, reject) =>
        sftp.fastPut(join(local, 'big.bin'), '/tmp/big.bin', { mode: 0o600 }, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
      await new Promise<void>((resolve, reject) =>
        sftp.chmod('/tmp/big.bin', 0o640, (error) => (error ? reject(error) : resolve())),
      );
      await new Promise<void>((resolve, reject) =>
        sftp.fastGet('/tmp/big.bin', join(local, 'back.bin'), (error) => (error ? reject(error) : resolve())),
      );
      assert.ok(readFileSync(join(local, 'back.bin')).equals(payload));
      assert.equal((await exec(client, 'ls -l /tmp/big.bin')).stdout.slice(0, 10), '-rw-r-----');
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  } finally {
    client.end();
  }
  const written = effects(131).find(
    (effect) => effect.kind === 'file-written' && effect.path === '/home/alice/deploy.sh',
  );
  assert.ok(written?.kind === 'file-written');
  assert.equal(written.content, '#!/bin/sh\necho deployed\n');
  assert.equal(written.mode, '0755');
  assert.equal(written.owner, 'alice');
});

test('a stopped VM refuses SSH connections; started again, it answers with the same host key', async () => {
  const ip = harness.sim.guest(131)!.ip!;
  const hostKeys: string[] = [];
  const remember = (key: Buffer) => {
    hostKeys.push(key.toString('base64'));
    return true;
  };
  const first = await connect({
    host: ip,
    port: harness.guestPort,
    username: 'alice',
    privateKey: alice.privateKey,
    hostVerifier: remember,
  });
  first.end();
  assert.equal((await harness.node('qm stop 131')).code, 0);
  await waitFor('guest 131 listener closed', () => !harness.ssh.guests.isListening(131));
  await harness.ssh.guests.settled();
  await assert.rejects(
    connect({
      host: ip,
      port: harness.guestPort,
      username: 'alice',
      privateKey: alice.privateKey,
      hostVerifier: remember,
    }),
    /ECONNREFUSED/,
  );
  assert.equal((await harness.node('qm start 131')).code, 0);
  await harness.guestUp(131);
  const again = await connect({
    host: ip,
    port: harness.guestPort,
    username: 'alice',
    privateKey: alice.privateKey,
    hostVerifier: remember,
  });
  try {
    assert.equal(
      (await exec(again, 'cat /home/alice/deploy.sh')).stdout,
      '#!/bin/sh\necho deployed\n',
      'disk survives a reboot',
    );
  } finally {
    again.end();
  }
  assert.equal(hostKeys[0], hostKeys[1]);
});
