/**
 * Guest trust, end to end on the simulator (issue 15, item 3): each lab copy's guests take only that
 * copy's key (copy A's key is refused by copy B's guest, and the installation key by both); the host
 * key Glassdome accepts is the one the guest agent read from the VM's disk, pinned before the first
 * SSH; a guest whose address answers with another host key fails its deploy at once with a message
 * naming the VM; destroying the lab forgets its copies' keys and its VMs' pins.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createDb, type Db } from '@glassdome/db';
import { labCopyGuestKey } from '@glassdome/runtime';
import { HostKeyMismatchError, publicKeyLineFingerprint, SshAuthError, SshPool, type SshTarget } from '@glassdome/ssh';
import { waitFor } from '@glassdome/testkit';
import { type Harness, startHarness } from './harness';

const secret = { GLASSDOME_SECRET_KEY: randomBytes(32).toString('base64') };
let harness: Harness;
let db: Db;
const ssh = new SshPool();

before(async () => {
  harness = await startHarness({ installers: 1, env: { ...secret, API_RATE_LIMIT: '100000' } });
  db = createDb(harness.databaseUrl);
});
after(async () => {
  ssh.close();
  await db?.destroy();
  await harness?.stop();
});

type LabVm = { id: string; name: string; copy: number; vmid: number; status: string; ip: string };
type Lab = {
  id: string;
  status: string;
  error?: string;
  vms: LabVm[];
  isolation: { agreed: boolean; pairs: unknown[] } | null;
};

async function labOf(id: string): Promise<Lab> {
  return (await harness.api('GET', `/api/v1/labs/${id}`)).body as unknown as Lab;
}

async function labIn(id: string, statuses: string[]): Promise<Lab> {
  return waitFor(
    `lab ${id} to reach ${statuses.join('|')}`,
    async () => {
      const lab = await labOf(id);
      return statuses.includes(lab.status) ? lab : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 250 },
  );
}

/** The guest's host key file as its agent reads it, through the simulator's Proxmox API. */
async function agentHostKey(vmid: number): Promise<string> {
  const { info } = harness.sim;
  const url = `${info.apiUrl}/api2/json/nodes/${info.node}/qemu/${vmid}/agent/file-read?file=${encodeURIComponent('/etc/ssh/ssh_host_ed25519_key.pub')}`;
  const res = await fetch(url, { headers: { Authorization: `PVEAPIToken=${info.tokenId}=${info.tokenSecret}` } });
  assert.equal(res.status, 200, res.statusText);
  return ((await res.json()) as { data: { content: string } }).data.content;
}

/** The fingerprint of the host key the SSH server at `host` presents (refused, so no login is tried). */
async function presentedFingerprint(host: string): Promise<string> {
  const target: SshTarget = {
    host,
    port: harness.sim.info.guestSshPort,
    username: 'nobody',
    privateKey: harness.userKey.privateKey,
    hostKey: { kind: 'pinned', fingerprints: ['SHA256:none'] },
  };
  const refused = await ssh.exec(target, ['true']).then(
    () => assert.fail('a pin no key has was accepted'),
    (error: unknown) => error,
  );
  assert.ok(refused instanceof HostKeyMismatchError, String(refused));
  return refused.received;
}

async function pinOf(vmId: string) {
  return db.selectFrom('vm_host_keys').selectAll().where('vm_id', '=', vmId).executeTakeFirst();
}

/** Whether `privateKey` logs into the VM (host key checked against its pin). */
async function logsIn(vm: LabVm, privateKey: string, fingerprint: string): Promise<boolean> {
  const target: SshTarget = {
    host: vm.ip,
    port: harness.sim.info.guestSshPort,
    username: 'ubuntu',
    privateKey,
    hostKey: { kind: 'pinned', fingerprints: [fingerprint] },
  };
  try {
    return (await ssh.exec(target, ['true'], { allowFailure: true, timeoutMs: 20_000 })).exitCode === 0;
  } catch (error) {
    if (error instanceof SshAuthError) return false;
    throw error;
  }
}

let labId: string;
let copies: LabVm[];

test('each copy’s guests take only that copy’s key; host keys are pinned from the agent before the first SSH', async () => {
  const accepted = await harness.api('POST', '/api/v1/labs', {
    name: 'trust',
    copies: 2,
    networks: [{ name: 'lan', cidr: '10.30.0.0/24' }],
    vms: [{ name: 'box', os: 'ubuntu-22.04', networks: ['lan'] }],
  });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  labId = String(accepted.body.id);
  const lab = await labIn(labId, ['ready', 'failed', 'degraded']);
  assert.equal(lab.status, 'ready', lab.error);
  copies = [0, 1].map((copy) => lab.vms.find((vm) => vm.copy === copy)!);
  // The isolation prober logged into each copy's guest with that copy's key, against its pin.
  assert.ok(lab.isolation?.agreed && lab.isolation.pairs.length > 0, JSON.stringify(lab.isolation));

  const [keyA, keyB] = await Promise.all([0, 1].map((copy) => labCopyGuestKey(db, secret, labId, copy)));
  assert.notEqual(keyA!.publicKey, keyB!.publicKey, 'copies have keys of their own');
  const installation = readFileSync(harness.stack.guestKeyFile, 'utf8');

  for (const [index, vm] of copies.entries()) {
    const pin = await pinOf(vm.id);
    assert.ok(pin, `${vm.name} copy ${vm.copy} has a pinned host key`);
    const onDisk = publicKeyLineFingerprint(await agentHostKey(vm.vmid));
    assert.equal(pin.fingerprint, onDisk.fingerprint, 'the pin is the key the agent reads from the disk');
    assert.equal(pin.key_type, 'ssh-ed25519');
    assert.equal(await presentedFingerprint(vm.ip), pin.fingerprint, 'and the key the guest presents');

    // The pin was written before Glassdome's first command on the guest.
    const effects = (await harness.sim.admin('GET', `/guest-effects?vmid=${vm.vmid}`)) as { at: string }[];
    assert.ok(effects.length > 0, 'Glassdome ran commands on the guest');
    const firstCommand = Math.min(...effects.map((effect) => Date.parse(effect.at)));
    assert.ok(pin.pinned_at.getTime() <= firstCommand, 'pinned before the first SSH command');

    const own = index === 0 ? keyA! : keyB!;
    const other = index === 0 ? keyB! : keyA!;
    assert.ok(await logsIn(vm, own.privateKey, pin.fingerprint), `copy ${vm.copy}'s key opens its guest`);
    assert.ok(!(await logsIn(vm, other.privateKey, pin.fingerprint)), `the other copy's key is refused`);
    assert.ok(!(await logsIn(vm, installation, pin.fingerprint)), 'the installation key is refused');
  }
});

test('a guest whose address answers with another host key fails its deploy at once, naming the VM', async () => {
  await harness.sim.admin('POST', '/faults', { impostorHostKey: 'all' });
  try {
    const accepted = await harness.api('POST', '/api/v1/vms', { name: 'impostor-target', os: 'ubuntu-22.04' });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    const id = String(accepted.body.id);
    const vm = await harness.waitForVm(id, ['ready', 'failed'], 120_000);
    assert.equal(vm.status, 'failed');
    assert.match(
      String(vm.error),
      new RegExp(`host key mismatch for VM impostor-target \\(${id}, Proxmox VM \\d+\\).*refusing to connect`),
    );
    const step = await db
      .selectFrom('steps')
      .select(['status', 'attempts', 'error'])
      .where('vm_id', '=', id)
      .where('name', '=', 'wait-ssh')
      .executeTakeFirstOrThrow();
    assert.equal(step.status, 'failed');
    assert.equal(step.attempts, 1, 'a mismatch is never retried');
    const pin = await pinOf(id);
    assert.ok(pin, 'the agent’s key was pinned before the attempt');
    assert.equal(pin.fingerprint, publicKeyLineFingerprint(await agentHostKey(Number(vm.vmid))).fingerprint);
  } finally {
    await harness.sim.admin('POST', '/faults', { impostorHostKey: null });
  }
});

test('destroying the lab forgets its copies’ keys and its VMs’ pins', async () => {
  assert.equal((await harness.api('DELETE', `/api/v1/labs/${labId}`)).status, 202);
  await labIn(labId, ['destroyed']);
  const sealed = await db.selectFrom('credentials').select('kind').where('kind', 'like', `%${labId}%`).execute();
  assert.deepEqual(sealed, [], 'no key of the lab is left');
  for (const vm of copies) assert.equal(await pinOf(vm.id), undefined, `${vm.name} copy ${vm.copy} has no pin`);
});
