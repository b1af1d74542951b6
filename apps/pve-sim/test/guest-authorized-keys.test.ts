/**
 * A guest's sshd reads the login user's authorized_keys: a key added inside the guest lets its owner
 * in at once and after a reboot, and a rollback to a snapshot taken before it was added locks them
 * out again (the file is part of the disk). The cloud-init keys always work.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateEd25519, sha256Fingerprint } from '../src/ssh/server/keys';
import { connect, exec, pinnedHostKey, type SshHarness, startSshHarness } from './ssh-harness';

let harness: SshHarness;
const owner = generateEd25519('owner@test');
const trainee = generateEd25519('trainee@test');
const vmid = 411;

before(async () => {
  harness = await startSshHarness();
  const pub = await harness.node('cat > /root/owner.pub', `${owner.publicKey}\n`);
  assert.equal(pub.code, 0, pub.stderr);
});
after(() => harness.stop());

async function qm(command: string): Promise<void> {
  const result = await harness.node(`qm ${command}`);
  assert.equal(result.code, 0, `qm ${command}: ${result.stderr}`);
}

/** Runs a command as alice with `key`; undefined when the login is refused. */
async function runAs(key: { privateKey: string }, command: string) {
  await harness.guestUp(vmid);
  await harness.ssh.guests.settled();
  const fingerprint = sha256Fingerprint(harness.ssh.guests.machine(vmid)!.hostKey.publicKey);
  const client = await connect({
    host: harness.sim.guest(vmid)!.ip!,
    port: harness.guestPort,
    username: 'alice',
    privateKey: key.privateKey,
    hostVerifier: pinnedHostKey(fingerprint),
  }).catch(() => undefined);
  if (!client) return undefined;
  try {
    return await exec(client, command);
  } finally {
    client.end();
  }
}

test('a key added to authorized_keys works at once and after a reboot; a rollback takes it away', async () => {
  await qm(`clone 9000 ${vmid} --name keys-${vmid}`);
  await qm(`set ${vmid} --ciuser alice --sshkeys /root/owner.pub`);
  await qm(`start ${vmid}`);
  assert.equal(await runAs(trainee, 'true'), undefined, 'the trainee has no key on the guest yet');
  await qm(`snapshot ${vmid} before-keys`);

  const added = await runAs(owner, `echo '${trainee.publicKey}' >> /home/alice/.ssh/authorized_keys`);
  assert.equal(added?.code, 0, added?.stderr);
  assert.equal((await runAs(trainee, 'whoami'))?.stdout, 'alice\n', 'the added key logs in');

  await qm(`reboot ${vmid}`);
  assert.equal((await runAs(trainee, 'whoami'))?.stdout, 'alice\n', 'the added key survives a reboot');

  await qm(`rollback ${vmid} before-keys --start 1`);
  assert.equal(await runAs(trainee, 'true'), undefined, 'the rollback took the key away');
  assert.equal((await runAs(owner, 'whoami'))?.stdout, 'alice\n', 'the cloud-init key still works');
});
