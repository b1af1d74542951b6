/**
 * SSH-reachable guests: when a VM's guest OS comes up, an SSH server listens on the VM's address
 * (a loopback address from the guest subnet) and the guest port, accepting exactly the cloud-init
 * user with one of the cloud-init keys; when the VM stops or is destroyed, the listener closes and
 * its connections drop, so a stopped VM refuses connections like a real one.
 */
import type { Logger } from '@glassdome/logger';
import type { GuestView } from '../../guests';
import type { Simulator } from '../../sim';
import type { DiskProvenance } from '../provenance';
import { parseAuthorizedKeys, publicKeyMatches } from '../server/keys';
import { serveSftp } from '../server/sftp';
import { SshEndpoint } from '../server/ssh-endpoint';
import { guestCommands } from './guest-commands';
import { GuestMachine } from './guest-machine';
import { detectGuestOs, type GuestOsId } from './os-profiles';

export interface GuestSshOptions {
  sim: Simulator;
  /** Which image each imported disk came from (recorded by the node's `qm`). */
  provenance: DiskProvenance;
  /** Port every guest's SSH server listens on, at the guest's own address. @defaultValue 22 */
  port: number;
  logger: Logger;
}

/** The default user of each cloud image when `ciuser` is not set. */
const defaultUser: Record<GuestOsId, string> = {
  'ubuntu-22.04': 'ubuntu',
  'ubuntu-24.04': 'ubuntu',
  'debian-12': 'debian',
  kali: 'kali',
};

export class GuestSshManager {
  private readonly machines = new Map<number, GuestMachine>();
  private readonly endpoints = new Map<number, SshEndpoint>();
  /** Per-VM chain of up/down transitions, so a quick stop never races a listener still opening. */
  private readonly transitions = new Map<number, Promise<void>>();
  private readonly onUp = (guest: GuestView) => this.enqueue(guest.vmid, () => this.up(guest));
  private readonly onDown = (guest: GuestView) => this.enqueue(guest.vmid, () => this.down(guest.vmid));

  constructor(private readonly options: GuestSshOptions) {
    options.sim.on('guest-up', this.onUp);
    options.sim.on('guest-down', this.onDown);
    for (const guest of options.sim.guests()) if (guest.up) this.onUp(guest);
  }

  /** The inside of a VM (filesystem, packages, services), for tests and the admin endpoint. */
  machine(vmid: number): GuestMachine | undefined {
    return this.machines.get(vmid);
  }

  /** Whether the VM's SSH server is listening now. */
  isListening(vmid: number): boolean {
    return this.endpoints.has(vmid);
  }

  /** Resolves once every pending listener change has been applied. */
  async settled(): Promise<void> {
    await Promise.all(this.transitions.values());
  }

  async close(): Promise<void> {
    this.options.sim.off('guest-up', this.onUp);
    this.options.sim.off('guest-down', this.onDown);
    await this.settled();
    await Promise.all([...this.endpoints.values()].map((endpoint) => endpoint.close()));
    this.endpoints.clear();
  }

  private enqueue(vmid: number, step: () => Promise<void>) {
    const previous = this.transitions.get(vmid) ?? Promise.resolve();
    const next = previous.then(step).catch((error: unknown) => {
      this.options.logger.warn({ err: error, vmId: vmid }, 'guest ssh listener change failed');
    });
    this.transitions.set(vmid, next);
  }

  private async up(guest: GuestView) {
    await this.endpoints.get(guest.vmid)?.close();
    this.endpoints.delete(guest.vmid);
    if (!guest.ip) return;
    const machine = this.machineFor(guest);
    machine.installAuthorizedKeys(guest.sshkeys);
    const allowedKeys = parseAuthorizedKeys(guest.sshkeys);
    const commands = guestCommands(machine);
    const endpoint = new SshEndpoint({
      host: guest.ip,
      port: this.options.port,
      hostKey: machine.hostKey.privateKey,
      hostname: machine.spec.hostname,
      logger: this.options.logger,
      authenticate: (context) =>
        context.username === machine.spec.user &&
        context.method === 'publickey' &&
        publicKeyMatches(context, allowedKeys),
      shellFor: (user) => machine.shell(user, commands),
      serveSftp: (sftp, user) => serveSftp(sftp, machine.shell(user, commands)),
      onExec: (user, command, exitCode) => machine.note({ kind: 'command', user, command, exitCode }),
    });
    await endpoint.listen();
    this.endpoints.set(guest.vmid, endpoint);
    this.options.logger.debug({ vmId: guest.vmid, ip: guest.ip, port: this.options.port }, 'guest ssh up');
  }

  private async down(vmid: number) {
    await this.endpoints.get(vmid)?.close();
    this.endpoints.delete(vmid);
    if (!this.options.sim.state.vms[vmid]) this.machines.delete(vmid);
  }

  private machineFor(guest: GuestView): GuestMachine {
    // The SMBIOS uuid is the machine's identity: a VM destroyed and re-created under the same id
    // (or a reset simulator) gets a fresh disk, a reboot keeps it.
    const existing = this.machines.get(guest.vmid);
    if (existing && existing.spec.smbiosUuid === (guest.config.smbios1 ?? '')) return existing;
    const os = detectGuestOs(this.options.sim, guest.vmid, (vmid) => this.options.provenance.sourceOf(vmid));
    const user = guest.ciuser ?? defaultUser[os.id];
    const hostname = guest.name.replace(/[^A-Za-z0-9.-]/g, '-');
    const machine = new GuestMachine(
      { vmid: guest.vmid, smbiosUuid: guest.config.smbios1 ?? '', os, hostname, user },
      (effect) => this.options.sim.recordGuestEffect(guest.vmid, effect),
    );
    this.machines.set(guest.vmid, machine);
    return machine;
  }
}
