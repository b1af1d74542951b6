/**
 * The verify step against the simulator's guests: one command reads the guest's OS release and, for
 * a lab VM given addresses, its IPv4 addresses; a guest without an address the lab assigned, or of
 * another OS, fails for good, naming what it has. A post-configuration with no item to run reads the
 * same in the command that waits for cloud-init, and the verify step right after it asks nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { PermanentError } from '@glassdome/queue';
import { ensureGuestKey, GuestKeys } from '@glassdome/runtime';
import { SshPool, type SshTarget } from '@glassdome/ssh';
import type { TestSimulator } from '@glassdome/testkit';
import type { InstallerContext } from '../src/context';
import { guestTarget, postConfigure, verify, waitForSsh } from '../src/steps/guest-steps';
import { waitForAgent } from '../src/steps/proxmox-steps';
import type { VmRow } from '../src/vm-record';
import { type DirectContext, recordOfSimVm, startDirectContext, TEST_PLACEMENT } from './direct-context';

let direct: DirectContext;
let sim: TestSimulator;
let ctx: InstallerContext;
const ssh = new SshPool();
/** Every command the steps ran on a guest, as argv. */
const commands: string[][] = [];

before(async () => {
  direct = await startDirectContext('guest-verify', (sim) => ({
    AGENT_TIMEOUT_SECONDS: 60,
    SSH_TIMEOUT_SECONDS: 60,
    GUEST_SSH_PORT: sim.info.guestSshPort,
    MANAGEMENT_CIDR: '127.64.0.0/16',
  }));
  sim = direct.sim;
  const counting = Object.create(ssh) as SshPool;
  counting.exec = (target: SshTarget, argv: readonly string[], options) => {
    commands.push([...argv]);
    return ssh.exec(target, argv, options);
  };
  const installation = await ensureGuestKey(direct.db, { GUEST_SSH_KEY_FILE: sim.info.sshPrivateKeyPath });
  ctx = { ...direct.ctx, ssh: counting, guestKeys: new GuestKeys(direct.db, {}, installation) } as InstallerContext;
});

after(async () => {
  ssh.close();
  await direct?.stop();
});

/** A running simulator VM reached over SSH as its deploy's wait-ssh step leaves it. */
async function reachedVm(name: string): Promise<VmRow> {
  const created = (await sim.admin('POST', '/bulk-vms', { count: 1, prefix: name })) as { first: number };
  // The guest accepts the installation key, as cloud-init would have set it up.
  const publicKey = readFileSync(`${sim.info.sshPrivateKeyPath}.pub`, 'utf8').trim();
  await direct.pve.vms.updateConfig(created.first, { sshKeys: [publicKey], ciuser: 'ubuntu' });
  await direct.pve.tasks.wait(await direct.pve.vms.start(created.first));
  const vm = await recordOfSimVm(direct, name, created.first);
  await waitForAgent(ctx, vm, TEST_PLACEMENT);
  await waitForSsh(ctx, vm);
  return vm;
}

test('a guest of the expected OS passes with one command', async () => {
  const vm = await reachedVm('plain');
  commands.length = 0;
  assert.deepEqual(await verify(ctx, vm), { osId: 'ubuntu', ip: vm.ip });
  assert.deepEqual(commands, [['cat', '/etc/os-release']]);
});

test("a lab VM's addresses are read in the same command, and one it lacks fails for good, naming what it has", async () => {
  const vm = await reachedVm('lab-vm');
  vm.spec = { ...vm.spec, networks: [{ name: 'lan', ip: '10.77.0.5/24' }] } as VmRow['spec'];
  commands.length = 0;
  await assert.rejects(
    verify(ctx, vm),
    (error: unknown) =>
      error instanceof PermanentError &&
      new RegExp(`the guest lacks 10\\.77\\.0\\.5/24 \\(lan\\); it has .*${vm.ip!.replaceAll('.', '\\.')}/`).test(
        error.message,
      ),
  );
  assert.deepEqual(commands, [['sh', '-c', 'cat /etc/os-release && ip -4 addr']]);
});

test('a guest of another OS fails for good', async () => {
  const vm = await reachedVm('other-os');
  vm.spec = { ...vm.spec, os: 'debian-12' } as VmRow['spec'];
  await assert.rejects(
    verify(ctx, vm),
    (error: unknown) =>
      error instanceof PermanentError && /guest reports ID=ubuntu, expected debian/.test(error.message),
  );
});

test('after a post-configuration with no item, the verify step checks what its cloud-init command read', async () => {
  const vm = await reachedVm('along');
  commands.length = 0;
  assert.deepEqual(await postConfigure(ctx, vm), { items: 0, ran: 0 });
  assert.deepEqual(await verify(ctx, vm), { osId: 'ubuntu', ip: vm.ip });
  assert.equal(commands.length, 1);
  assert.deepEqual(commands[0]!.slice(0, 2), ['sh', '-c']);
  assert.match(commands[0]![2]!, /^cloud-init status --wait \|\| exit \$\?\n/);
  // The read is used once: a verify step again (another try) asks the guest itself.
  commands.length = 0;
  assert.deepEqual(await verify(ctx, vm), { osId: 'ubuntu', ip: vm.ip });
  assert.deepEqual(commands, [['cat', '/etc/os-release']]);
});

test("a lab VM's missing address is found in the read along too", async () => {
  const vm = await reachedVm('along-lab');
  vm.spec = { ...vm.spec, networks: [{ name: 'lan', ip: '10.77.0.6/24' }] } as VmRow['spec'];
  commands.length = 0;
  await postConfigure(ctx, vm);
  await assert.rejects(
    verify(ctx, vm),
    (error: unknown) =>
      error instanceof PermanentError && /the guest lacks 10\.77\.0\.6\/24 \(lan\)/.test(error.message),
  );
  assert.equal(commands.length, 1);
  assert.match(commands[0]![2]!, /cat \/etc\/os-release && ip -4 addr/);
});

test("a post-configuration looks for its items' markers in its cloud-init command, and a repeat runs none of them", async () => {
  const vm = await reachedVm('items');
  vm.spec = {
    ...vm.spec,
    provision: [{ run: 'echo one >> /tmp/gd-items-ran' }, { run: 'echo two >> /tmp/gd-items-ran' }],
  } as VmRow['spec'];
  commands.length = 0;
  assert.deepEqual(await postConfigure(ctx, vm), { items: 2, ran: 2 });
  // The wait with both checks, then each item's script (which removes itself).
  assert.equal(commands.filter((argv) => argv[0] === 'sh' && /cloud-init status --wait/.test(argv[2]!)).length, 1);
  assert.equal(commands.length, 3);
  commands.length = 0;
  assert.deepEqual(await postConfigure(ctx, vm), { items: 2, ran: 0 });
  assert.equal(commands.length, 1);
  const target = await guestTarget(ctx, vm);
  assert.equal((await ssh.exec(target, ['cat', '/tmp/gd-items-ran'])).stdout, 'one\ntwo\n');
  assert.doesNotMatch((await ssh.exec(target, ['ls', '/tmp'])).stdout, /glassdome-.*\.sh/);
});
