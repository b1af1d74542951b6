/**
 * How Glassdome trusts a guest before it logs in as root there (docs/security.md, "Guest trust"):
 * - it connects only to the address the guest agent reports on the NIC whose MAC the VM's config
 *   holds (its management NIC), never to one the guest merely reports on another interface, and
 *   only when that address lies in MANAGEMENT_CIDR, the network those NICs get addresses from;
 * - the host key it accepts is the one the guest agent reads from the VM's own disk
 *   (`/etc/ssh/ssh_host_ed25519_key.pub`), pinned per VM in Postgres before the first SSH: a
 *   machine answering at that address with another key is refused, once and for good;
 * - it logs in with the key of the VM's lab copy (or, for a VM of no lab, the installation's).
 */
import { BlockList } from 'node:net';
import { deleteVmHostKey, findVmHostKey, findVmHostKeys, pinVmHostKey, type VmStepWrites } from '@glassdome/db';
import type { VmConfig } from '@glassdome/proxmox';
import { PermanentError } from '@glassdome/queue';
import { HostKeyMismatchError, publicKeyLineFingerprint, type SshTarget } from '@glassdome/ssh';
import type { InstallerContext } from '../context';
import type { VmRow } from '../vm-record';
import { loginUser } from '../vm-spec';

/** The host key file the agent reads: every cloud image Glassdome supports makes an ed25519 key. */
export const GUEST_HOST_KEY_FILE = '/etc/ssh/ssh_host_ed25519_key.pub';

/** A guest presented a host key other than the one its agent read from its disk. Never retried. */
export class GuestHostKeyMismatch extends PermanentError {
  constructor(vm: VmRow, mismatch: HostKeyMismatchError) {
    super(
      `host key mismatch for VM ${vm.name} (${vm.id}, Proxmox VM ${vm.vmid ?? '?'}): ${mismatch.host}:${mismatch.port} ` +
        `presented ${mismatch.received}, but the key its guest agent read from ${GUEST_HOST_KEY_FILE} is ` +
        `${mismatch.expected.join(' or ')}; refusing to connect (another machine may be answering at that address)`,
    );
    this.name = 'GuestHostKeyMismatch';
  }
}

/**
 * The VM's config as this job attempt last wrote or read it (its `configure` step's write, or its
 * `firewall` step's read when `configure` ran in an earlier attempt), by the VM record of that attempt:
 * the firewall step records the NICs from it and the agent wait takes the management MAC from it,
 * instead of reading the config again (the steps between change no NIC). Another attempt loads
 * another record, and reads.
 */
const keptConfigs = new WeakMap<VmRow, { vmid: number; config: VmConfig }>();

export function keepConfig(vm: VmRow, config: VmConfig): void {
  if (vm.vmid) keptConfigs.set(vm, { vmid: vm.vmid, config });
}

/** The config kept for this attempt's VM (see `keepConfig`), if any. */
export function keptConfig(vm: VmRow): VmConfig | undefined {
  const kept = keptConfigs.get(vm);
  return kept?.vmid === vm.vmid ? kept.config : undefined;
}

/** The MAC of the VM's management NIC (`net<index>` of its config); a VM without one is not reached at all. */
export async function managementMac(ctx: InstallerContext, vm: VmRow, nicIndex: number): Promise<string> {
  const kept = keptConfig(vm);
  keptConfigs.delete(vm);
  const config = kept ?? (await ctx.pve.vms.config(vm.vmid!, vm.node));
  const mac = config.nics[`net${nicIndex}`]?.macaddr;
  if (!mac) {
    throw new PermanentError(
      `VM ${vm.name} has no net${nicIndex} with a MAC address in its config: Glassdome reaches a guest only on its management NIC`,
    );
  }
  return mac;
}

/**
 * The fingerprint pinned for the VM as this job attempt pinned or read it, by the VM record of that
 * attempt: its later steps connect with it instead of reading the pin again (only this VM's own steps
 * and its removal change the pin, and they go through `pinHostKey` and `forgetHostKey`). Another attempt
 * loads another record, and reads.
 */
const pinsOfAttempt = new WeakMap<VmRow, string>();

/** The guest's host key as its agent reads it from the VM's disk; a file that holds none fails for good. */
async function readHostKey(ctx: InstallerContext, vm: VmRow): Promise<{ keyType: string; fingerprint: string }> {
  const { content, truncated } = await ctx.pve.agent.readFile(vm.vmid!, GUEST_HOST_KEY_FILE, vm.node);
  try {
    if (truncated) throw new Error('the file is larger than the agent returns');
    return publicKeyLineFingerprint(content.toString('latin1'));
  } catch (error) {
    throw new PermanentError(
      `VM ${vm.name}: ${GUEST_HOST_KEY_FILE} read through the guest agent is no host key (${error instanceof Error ? error.message : error})`,
    );
  }
}

/**
 * Reads the guest's host key through its agent and pins it for the VM, replacing an earlier pin (the
 * guest may have been cloned anew). Returns the pinned fingerprint.
 */
export async function pinHostKey(ctx: InstallerContext, vm: VmRow): Promise<string> {
  const parsed = await readHostKey(ctx, vm);
  pinsOfAttempt.delete(vm);
  await pinVmHostKey(ctx.db, { vmId: vm.id, ...parsed });
  pinsOfAttempt.set(vm, parsed.fingerprint);
  return parsed.fingerprint;
}

/** The address and host key this attempt's agent wait learned, by VM record, until its step records them. */
const learnedOfAttempt = new WeakMap<VmRow, { ip: string; pin: { keyType: string; fingerprint: string } }>();

/**
 * The guest agent reported `ip` on the VM's management NIC: reads the guest's host key through the
 * agent at once (the address is that of a new boot, whose disk, and so key, may be new) and keeps
 * both for the step's record (`guestWrites`), which writes the address and replaces the pin in one
 * statement, before the next step (the first SSH) starts. A reader never sees the new address with
 * an old pin.
 */
export async function learnGuestAddress(ctx: InstallerContext, vm: VmRow, ip: string): Promise<void> {
  pinsOfAttempt.delete(vm);
  learnedOfAttempt.delete(vm);
  vm.ip = ip;
  const pin = await readHostKey(ctx, vm);
  learnedOfAttempt.set(vm, { ip, pin });
  pinsOfAttempt.set(vm, pin.fingerprint);
}

/** What the agent wait of this attempt learned, as its step's record writes it (undefined if nothing). */
export function guestWrites(vm: VmRow): VmStepWrites | undefined {
  const learned = learnedOfAttempt.get(vm);
  return learned && { ip: learned.ip, pin: learned.pin };
}

/**
 * The pin the agent wait of this attempt read (`learnGuestAddress`) and its step recorded; undefined
 * when this attempt resumed after that step, or did not run it through the pipeline.
 */
export function learnedPin(vm: VmRow): string | undefined {
  return learnedOfAttempt.get(vm)?.pin.fingerprint;
}

/** Drops the VM's pin (it was destroyed, or rolled back to a disk whose key is read again before use). */
export function forgetHostKey(ctx: InstallerContext, vm: VmRow): Promise<void> {
  pinsOfAttempt.delete(vm);
  return deleteVmHostKey(ctx.db, vm.id);
}

/** The VM's pinned fingerprint: as this attempt knows it, else from Postgres, else read through the agent and pinned. */
async function pinnedFingerprint(ctx: InstallerContext, vm: VmRow): Promise<string> {
  const known = pinsOfAttempt.get(vm);
  if (known) return known;
  const stored = await findVmHostKey(ctx.db, vm.id);
  if (!stored) return pinHostKey(ctx, vm);
  pinsOfAttempt.set(vm, stored);
  return stored;
}

/**
 * The pin of a VM record of this attempt as a statement the attempt made anyway read it (a lab task's
 * start reads its VM with its pin): `guestTarget` then reads none of its own.
 */
export function pinReadWith(vm: VmRow, fingerprint: string | null): void {
  if (fingerprint) pinsOfAttempt.set(vm, fingerprint);
}

/**
 * Reads the pins of several VM records of this attempt in one statement (an isolation check about to
 * log in to many guests), so that `guestTarget` finds them as if each had read its own; a VM without
 * a pin is left to `guestTarget`, which reads and pins its key through the agent.
 */
export async function readPins(ctx: InstallerContext, vms: readonly VmRow[]): Promise<void> {
  const unknown = vms.filter((vm) => !pinsOfAttempt.has(vm));
  const stored = await findVmHostKeys(
    ctx.db,
    unknown.map((vm) => vm.id),
  );
  for (const vm of unknown) {
    // A pin made meanwhile by the attempt itself is newer than this read.
    if (!pinsOfAttempt.has(vm)) pinReadWith(vm, stored.get(vm.id) ?? null);
  }
}

/**
 * A management address outside MANAGEMENT_CIDR is one the guest chose for itself (or another host's):
 * Glassdome does not connect to it.
 */
export function assertManagementAddress(ctx: InstallerContext, vm: VmRow, ip: string): void {
  const cidr = ctx.env.MANAGEMENT_CIDR;
  const [base, bits] = cidr.split('/');
  const inside = new BlockList();
  inside.addSubnet(base!, Number(bits), 'ipv4');
  if (!inside.check(ip, 'ipv4')) {
    throw new PermanentError(
      `VM ${vm.name}'s management NIC has ${ip}, outside MANAGEMENT_CIDR ${cidr}: Glassdome does not connect to it`,
    );
  }
}

/**
 * Where and how to SSH to the guest: its management address, its lab copy's key, and only the host
 * key pinned for it (read through the agent first if none is pinned yet).
 */
export async function guestTarget(ctx: InstallerContext, vm: VmRow): Promise<SshTarget> {
  if (!vm.ip) throw new Error(`VM ${vm.id} has no IP yet`);
  assertManagementAddress(ctx, vm, vm.ip);
  const fingerprint = await pinnedFingerprint(ctx, vm);
  return {
    host: vm.ip,
    port: ctx.env.GUEST_SSH_PORT,
    username: loginUser(vm.spec),
    privateKey: (await ctx.guestKeys.forVm(vm)).privateKey,
    hostKey: { kind: 'pinned', fingerprints: [fingerprint] },
  };
}

/** Runs SSH work on the guest; a host key mismatch becomes a permanent failure that names the VM. */
export async function onGuest<T>(vm: VmRow, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof HostKeyMismatchError) throw new GuestHostKeyMismatch(vm, error);
    throw error;
  }
}
