/**
 * The installer's side of guest trust against the simulator's Proxmox API: the pin is the host key
 * the guest agent reads from the VM's disk, a key file that holds no key fails for good instead of
 * pinning nothing, and a VM whose config lacks the management NIC, or whose management address lies
 * outside MANAGEMENT_CIDR, is not reached at all.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test } from 'node:test';
import { type Db, findVmHostKey, recordVmSteps } from '@glassdome/db';
import type { Proxmox } from '@glassdome/proxmox';
import { PermanentError } from '@glassdome/queue';
import { ensureGuestKey, GuestKeys } from '@glassdome/runtime';
import { publicKeyLineFingerprint } from '@glassdome/ssh';
import type { TestSimulator } from '@glassdome/testkit';
import type { InstallerContext } from '../src/context';
import {
  GUEST_HOST_KEY_FILE,
  guestTarget,
  guestWrites,
  learnedPin,
  managementMac,
  pinHostKey,
} from '../src/steps/guest-trust';
import { waitForAgent } from '../src/steps/proxmox-steps';
import { loadVm } from '../src/vm-record';
import { type DirectContext, recordOfSimVm, startDirectContext, TEST_PLACEMENT } from './direct-context';

let direct: DirectContext;
let sim: TestSimulator;
let db: Db;
let pve: Proxmox;
let ctx: InstallerContext;

before(async () => {
  direct = await startDirectContext('host-key-pin', (sim) => ({
    AGENT_TIMEOUT_SECONDS: 60,
    GUEST_SSH_PORT: sim.info.guestSshPort,
    MANAGEMENT_CIDR: '127.64.0.0/16',
  }));
  ({ sim, db, pve, ctx } = direct);
});

after(() => direct?.stop());

const placement = TEST_PLACEMENT;

/** A running simulator VM and its record, its agent answering on its management NIC. */
async function runningVm(name: string) {
  const created = (await sim.admin('POST', '/bulk-vms', { count: 1, start: true, prefix: name })) as { first: number };
  const vm = await recordOfSimVm(direct, name, created.first);
  await waitForAgent(ctx, vm, placement);
  return vm;
}

test('the pin is the fingerprint of the key file the agent reads, replaced when read again', async () => {
  const vm = await runningVm('pinned');
  const file = await pve.agent.readFile(vm.vmid!, GUEST_HOST_KEY_FILE, vm.node);
  assert.equal(file.truncated, false);
  const expected = publicKeyLineFingerprint(file.content.toString()).fingerprint;
  assert.equal(await pinHostKey(ctx, vm), expected);
  assert.equal(await findVmHostKey(db, vm.id), expected);
  await db.updateTable('vm_host_keys').set({ fingerprint: 'SHA256:stale' }).where('vm_id', '=', vm.id).execute();
  await pinHostKey(ctx, vm);
  assert.equal(await findVmHostKey(db, vm.id), expected, 'a new read replaces the old pin');
});

/** A new ed25519 public key as one line of a `.pub` file (SSH wire format: length-prefixed fields). */
function publicKeyLine(): string {
  const raw = Buffer.from(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]).toString('base64')} root@guest\n`;
}

test('a new agent address forgets the pin, also the one this attempt holds: the next target reads the key again', async () => {
  const vm = await runningVm('readdressed');
  const installation = await ensureGuestKey(db, { GUEST_SSH_KEY_FILE: sim.info.sshPrivateKeyPath });
  const withKeys = { ...ctx, guestKeys: new GuestKeys(db, {}, installation) } as InstallerContext;
  const first = await pinHostKey(withKeys, vm);
  assert.deepEqual((await guestTarget(withKeys, vm)).hostKey, { kind: 'pinned', fingerprints: [first] });
  // The guest comes back with another key on its disk (a revert, a re-clone), and its agent answers again.
  const line = publicKeyLine();
  await pve.client.post(`/nodes/${vm.node}/qemu/${vm.vmid}/agent/file-write`, {
    file: GUEST_HOST_KEY_FILE,
    content: line,
  });
  await waitForAgent(withKeys, vm, placement);
  const second = publicKeyLineFingerprint(line).fingerprint;
  assert.notEqual(second, first);
  // The wait read the new key through the agent; the step's record writes the address and the pin.
  assert.deepEqual(guestWrites(vm), { ip: vm.ip, pin: { keyType: 'ssh-ed25519', fingerprint: second } });
  assert.deepEqual((await guestTarget(withKeys, vm)).hostKey, { kind: 'pinned', fingerprints: [second] });
  assert.equal(learnedPin(vm), second, "the attempt's wait-ssh connects with it, reading no key again");
  await recordVmSteps(
    db,
    { vmId: vm.id },
    {
      end: {
        name: 'wait-agent',
        outcome: { status: 'done' },
        event: { kind: 'vm.step.done', message: 'wait-agent done' },
        writes: guestWrites(vm)!,
      },
    },
  );
  assert.equal(await findVmHostKey(db, vm.id), second, 'the address and the new pin are one write');
  assert.equal((await loadVm(db, vm.id))?.ip, vm.ip);
});

test('a host key file that holds no key fails for good and pins nothing', async () => {
  const vm = await runningVm('garbled');
  await pve.client.post(`/nodes/${vm.node}/qemu/${vm.vmid}/agent/file-write`, {
    file: GUEST_HOST_KEY_FILE,
    content: 'not a key\n',
  });
  await assert.rejects(
    pinHostKey(ctx, vm),
    (error: unknown) =>
      error instanceof PermanentError &&
      /garbled: \/etc\/ssh\/ssh_host_ed25519_key\.pub .* is no host key/.test(error.message),
  );
  assert.equal(await findVmHostKey(db, vm.id), undefined);
});

test('a VM whose config has no management NIC is not reached', async () => {
  const vm = await runningVm('no-nic');
  assert.match(await managementMac(ctx, vm, 0), /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/);
  await assert.rejects(
    waitForAgent(ctx, vm, { ...placement, managementNic: 3 }),
    (error: unknown) => error instanceof PermanentError && /no-nic has no net3 with a MAC address/.test(error.message),
  );
});

test('a management address outside MANAGEMENT_CIDR is never connected to', async () => {
  const vm = await runningVm('elsewhere');
  assert.match(vm.ip ?? '', /^127\.64\./);
  const outside = { ...ctx, env: { ...ctx.env, MANAGEMENT_CIDR: '10.99.0.0/16' } } as InstallerContext;
  await assert.rejects(
    guestTarget(outside, vm),
    (error: unknown) =>
      error instanceof PermanentError &&
      new RegExp(
        `elsewhere's management NIC has ${vm.ip!.replace(/\./g, '\\.')}, outside MANAGEMENT_CIDR 10\\.99\\.0\\.0/16`,
      ).test(error.message),
  );
});
