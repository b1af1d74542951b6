/**
 * What a guest's host key looks like from outside: `agent/file-read` of its public key file needs
 * VM.Monitor on the VM (PVE 8), and with the `impostorHostKey` fault the SSH server at the guest's
 * address presents another key while the agent still reads the disk's — at once for a listening
 * guest, and back to the disk's key when the fault is cleared.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '@glassdome/logger';
import { freePort } from '@glassdome/testkit';
import { Client } from 'ssh2';
import { sshExtension } from '../src/ssh/extension';
import { generateEd25519 } from '../src/ssh/server/keys';
import { cloneTemplate, startTestSim, type TestSim } from './helpers';

let sim: TestSim;
let guestPort: number;
const alice = generateEd25519('alice@test');
const vm = '/nodes/pve01/qemu/502';
const keyFile = '/etc/ssh/ssh_host_ed25519_key.pub';

before(async () => {
  guestPort = await freePort();
  const logger = createLogger({ name: 'impostor-test', level: 'silent', format: 'json' });
  sim = await startTestSim({ sshPort: 0, guestSshPort: guestPort, extensions: [sshExtension({ logger })] });
  assert.equal(await cloneTemplate(sim, 502), 'OK');
  const set = await sim.api('PUT', `${vm}/config`, {
    ciuser: 'alice',
    sshkeys: encodeURIComponent(`${alice.publicKey}\n`),
  });
  assert.equal(set.status, 200, set.statusText);
  const started = await sim.api('POST', `${vm}/status/start`);
  assert.equal(started.status, 200, started.statusText);
  await sim.waitTask(started.body!.data as string);
});
after(() => sim.stop());

/** The base64 blob of the key the guest's agent reads from its disk, once the agent answers. */
async function keyOnDisk(): Promise<string> {
  for (let tries = 0; tries < 200; tries++) {
    const read = await sim.api('GET', `${vm}/agent/file-read`, { file: keyFile });
    if (read.status === 200) {
      const content = (read.body!.data as { content: string }).content;
      assert.match(content, /^ssh-ed25519 [A-Za-z0-9+/=]+ root@/);
      return content.split(' ')[1]!;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the agent never answered');
}

/** The base64 blob of the host key the SSH server at the guest's address presents. */
function presentedKey(): Promise<string> {
  const ip = sim.running.sim.guest(502)!.ip!;
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.on('error', () => undefined);
    client.connect({
      host: ip,
      port: guestPort,
      username: 'alice',
      privateKey: alice.privateKey,
      hostVerifier: (key: Buffer) => {
        resolve(key.toString('base64'));
        return false;
      },
    });
    setTimeout(() => reject(new Error('no host key seen')), 10_000).unref();
  });
}

test('file-read needs VM.Monitor on the VM, as in PVE 8', async () => {
  await keyOnDisk();
  const root = await sim.rootAuth();
  await sim.api('POST', '/access/users', { userid: 'watcher@pve' }, root);
  const token = (await sim.api('POST', '/access/users/watcher@pve/token/mon', { privsep: '0' }, root)).body!.data as {
    value: string;
  };
  const auth = `PVEAPIToken=watcher@pve!mon=${token.value}`;
  await sim.api('PUT', '/access/acl', { path: '/vms/502', roles: 'PVEAuditor', users: 'watcher@pve' }, root);
  const refused = await sim.api('GET', `${vm}/agent/file-read`, { file: keyFile }, auth);
  assert.equal(refused.status, 403);
  assert.equal(refused.statusText, 'Permission check failed (/vms/502, VM.Monitor)');
  await sim.api('PUT', '/access/acl', { path: '/vms/502', roles: 'PVEVMAdmin', users: 'watcher@pve' }, root);
  assert.equal((await sim.api('GET', `${vm}/agent/file-read`, { file: keyFile }, auth)).status, 200);
});

test('an impostor at the address presents another key; the agent still reads the disk’s', async () => {
  const disk = await keyOnDisk();
  assert.equal(await presentedKey(), disk, 'without the fault the SSH server presents the disk’s key');

  assert.equal((await sim.admin('POST', '/faults', { impostorHostKey: 502 })).status, 200);
  const impostor = await presentedKey();
  assert.notEqual(impostor, disk, 'the listening guest switched to another key');
  assert.equal(await keyOnDisk(), disk, 'the agent reads the same file as before');

  assert.equal((await sim.admin('POST', '/faults', { impostorHostKey: null })).status, 200);
  assert.equal(await presentedKey(), disk, 'cleared: the disk’s key again');
});
