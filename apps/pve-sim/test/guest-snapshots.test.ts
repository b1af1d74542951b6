/**
 * Snapshots hold the guest's disk: a rollback brings back the files, packages and host key the
 * guest had (a file written after the snapshot is gone, other VMs keep theirs); a snapshot with RAM
 * resumes running with no boot; clones start from their template's (or a snapshot's) filesystem.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from 'ssh2';
import { generateEd25519, sha256Fingerprint } from '../src/ssh/server/keys';
import { connect, exec, pinnedHostKey, type SshHarness, startSshHarness } from './ssh-harness';

let harness: SshHarness;
const alice = generateEd25519('alice@test');

before(async () => {
  harness = await startSshHarness();
  const pub = await harness.node('cat > /root/alice.pub', `${alice.publicKey}\n`);
  assert.equal(pub.code, 0, pub.stderr);
});
after(() => harness.stop());

async function qm(command: string): Promise<string> {
  const result = await harness.node(`qm ${command}`);
  assert.equal(result.code, 0, `qm ${command}: ${result.stderr}`);
  return result.stdout;
}

async function boot(vmid: number, from = 9000, cloneOptions = '', name = `box-${vmid}`): Promise<void> {
  await qm(`clone ${from} ${vmid} --name ${name} ${cloneOptions}`);
  await qm(`set ${vmid} --ciuser alice --sshkeys /root/alice.pub`);
  await qm(`start ${vmid}`);
  await harness.guestUp(vmid);
}

function hostKeyOf(vmid: number): string {
  return sha256Fingerprint(harness.ssh.guests.machine(vmid)!.hostKey.publicKey);
}

/** Runs a command line as alice on the guest, pinning `fingerprint` as its host key. */
async function run(vmid: number, command: string, fingerprint?: string): Promise<string> {
  await harness.guestUp(vmid);
  await harness.ssh.guests.settled();
  const client: Client = await connect({
    host: harness.sim.guest(vmid)!.ip!,
    port: harness.guestPort,
    username: 'alice',
    privateKey: alice.privateKey,
    hostVerifier: pinnedHostKey(fingerprint ?? hostKeyOf(vmid)),
  });
  try {
    const result = await exec(client, command);
    assert.equal(result.code, 0, `${command}: ${result.stderr}`);
    return result.stdout;
  } finally {
    client.end();
  }
}

test('a rollback restores the guest files and packages of the snapshot; other VMs keep theirs', async () => {
  await boot(301);
  await boot(302);
  const key = hostKeyOf(301);
  await run(301, 'echo original > /home/alice/before.txt');
  await run(302, 'echo neighbour > /home/alice/mine.txt');
  await qm('snapshot 301 initial --description "lab ready"');
  await run(301, 'echo changed > /home/alice/before.txt && echo later > /home/alice/after.txt');
  await run(301, 'sudo apt-get install -y nginx && sudo rm /etc/os-release');

  await qm('rollback 301 initial');
  assert.equal(harness.sim.guest(301)?.status, 'stopped', 'a rollback without RAM leaves the VM stopped');
  await qm('start 301');
  const listing = await run(
    301,
    'cat /home/alice/before.txt; test -e /home/alice/after.txt || echo after-gone; dpkg -s nginx || echo no-nginx; grep -c ID= /etc/os-release',
    key,
  );
  assert.match(listing, /^original\nafter-gone\n/);
  assert.match(listing, /no-nginx\n/);
  assert.match(listing, /\n2\n$/, 'the deleted base file is back');
  assert.equal(await run(302, 'cat /home/alice/mine.txt'), 'neighbour\n');
});

test('a snapshot with RAM lists vmstate 1 and its rollback resumes the VM running, with no boot', async () => {
  await run(301, 'echo at-ram-snapshot > /home/alice/ram.txt');
  await qm('snapshot 301 withram --vmstate 1');
  await run(301, 'rm /home/alice/ram.txt && echo gone-later > /home/alice/later.txt');
  const list = JSON.parse(
    await harness.node('pvesh get /nodes/pve01/qemu/301/snapshot --output-format json').then((r) => r.stdout),
  );
  const states = Object.fromEntries(list.map((item: { name: string; vmstate?: number }) => [item.name, item.vmstate]));
  assert.equal(states.withram, 1);
  assert.equal(states.initial, 0);

  // A cold boot from here on would take hours: only a resume from RAM is up at once.
  const boot = harness.sim.clock.latencies.boot;
  harness.sim.clock.latencies.boot = 1e9;
  try {
    await qm('rollback 301 withram');
    const guest = harness.sim.guest(301)!;
    assert.equal(guest.status, 'running', 'a RAM snapshot comes back running');
    assert.equal(guest.up, true, 'without a boot');
    assert.equal(
      await run(301, 'cat /home/alice/ram.txt; test -e /home/alice/later.txt || echo later-gone'),
      'at-ram-snapshot\nlater-gone\n',
    );
  } finally {
    harness.sim.clock.latencies.boot = boot;
  }
});

test('a snapshot of a stopped VM ignores vmstate, as PVE does', async () => {
  await qm('stop 302');
  await qm('snapshot 302 cold --vmstate 1');
  const list = JSON.parse(
    await harness.node('pvesh get /nodes/pve01/qemu/302/snapshot --output-format json').then((r) => r.stdout),
  );
  assert.equal(list.find((item: { name: string }) => item.name === 'cold').vmstate, 0);
  await qm('rollback 302 cold');
  assert.equal(harness.sim.guest(302)?.status, 'stopped');
});

test("clones start from their template's filesystem, or a snapshot's, with a host key of their own", async () => {
  await boot(310);
  await run(
    310,
    'sudo mkdir -p /opt/tools && echo "#!/bin/sh" | sudo tee /opt/tools/scan.sh && sudo apt-get install -y nmap',
  );
  const templateKey = hostKeyOf(310);
  await qm('shutdown 310');
  await qm('template 310');
  await boot(311, 310);
  assert.equal(
    await run(311, 'cat /opt/tools/scan.sh && dpkg -s nmap | grep Status'),
    '#!/bin/sh\nStatus: install ok installed\n',
  );
  assert.notEqual(hostKeyOf(311), templateKey, 'a clone makes its own host key');
  // As for a fresh disk, a clone's own name decides its OS at its first boot.
  await boot(313, 310, '', 'kali-313');
  assert.match(await run(313, 'grep ^ID= /etc/os-release; cat /opt/tools/scan.sh'), /^ID=kali\n#!\/bin\/sh\n$/);

  await boot(312, 301, '--snapname initial');
  assert.equal(
    await run(312, 'cat /home/alice/before.txt; test -e /home/alice/after.txt || echo after-gone'),
    'original\nafter-gone\n',
  );
});
