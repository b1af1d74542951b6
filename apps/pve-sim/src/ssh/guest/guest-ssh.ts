/**
 * SSH-reachable guests: when a VM's guest OS comes up, an SSH server listens on the VM's address
 * (a loopback address from the guest subnet) and the guest port, accepting exactly the cloud-init
 * user with one of the cloud-init keys; when the VM stops or is destroyed, the listener closes and
 * its connections drop, so a stopped VM refuses connections like a real one.
 */
import type { Logger } from '@glassdome/logger';
import type { GuestView } from '../../guests';
import { probeFromManagement } from '../../network/packet';
import type { Simulator } from '../../sim';
import type { DiskProvenance } from '../provenance';
import { generateEd25519, parseAuthorizedKeys, publicKeyMatches } from '../server/keys';
import { serveSftp } from '../server/sftp';
import { SshEndpoint } from '../server/ssh-endpoint';
import { guestCommands } from './guest-commands';
import { GuestMachine } from './guest-machine';
import { GuestNetwork } from './guest-network';
import { detectGuestOs, type GuestOsId, guestOsProfiles } from './os-profiles';

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
  /** The listenKey each open listener was made for. */
  private readonly listeningFor = new Map<number, string>();
  /** Per-VM chain of up/down transitions, so a quick stop never races a listener still opening. */
  private readonly transitions = new Map<number, Promise<void>>();
  private readonly onUp = (guest: GuestView) => this.enqueue(guest.vmid, () => this.up(guest));
  private readonly onDown = (guest: GuestView) => this.enqueue(guest.vmid, () => this.down(guest.vmid));
  /** A changed impostor fault reopens the listeners it changes (up() keeps the others). */
  private readonly onFaults = () => {
    for (const guest of this.options.sim.guests()) if (guest.up) this.onUp(guest);
  };
  /** The key an impostor answering at a guest's address presents (the impostorHostKey fault). */
  private readonly impostorKey = generateEd25519('root@impostor');

  /** What the guests' network tools see: NICs, routes, and connection attempts through the packet model. */
  readonly network: GuestNetwork;

  constructor(private readonly options: GuestSshOptions) {
    this.network = new GuestNetwork(options.sim, (vmid) => this.machine(vmid), options.port);
    options.sim.on('guest-up', this.onUp);
    options.sim.on('guest-down', this.onDown);
    options.sim.on('faults', this.onFaults);
    for (const guest of options.sim.guests()) if (guest.up) this.onUp(guest);
  }

  /**
   * The inside of a VM (filesystem, packages, services), for tests and the admin endpoint; undefined
   * before its first boot, and after a rollback or a state load until it boots again.
   */
  machine(vmid: number): GuestMachine | undefined {
    const machine = this.machines.get(vmid);
    return machine && machine.disk === this.options.sim.state.vms[vmid]?.guest ? machine : undefined;
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
    this.options.sim.off('faults', this.onFaults);
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
    const listening = this.endpoints.get(guest.vmid);
    // A restored state can announce a guest that is already being served (its boot timer and the
    // listener's start-up scan both see it up): keep that listener rather than drop its sessions.
    if (listening && this.listeningFor.get(guest.vmid) === this.listenKey(guest)) return;
    await listening?.close();
    this.endpoints.delete(guest.vmid);
    this.listeningFor.delete(guest.vmid);
    if (!guest.ip) return;
    const machine = this.machineFor(guest);
    machine.installAuthorizedKeys(guest.sshkeys);
    const allowedKeys = parseAuthorizedKeys(guest.sshkeys);
    // The command table (a closure per command) is made at the first login: at 10,000 guests most
    // never see one.
    let commands: ReturnType<typeof guestCommands> | undefined;
    const commandsOf = () => {
      commands ??= guestCommands(machine, this.network.forGuest(guest.vmid));
      return commands;
    };
    const endpoint = new SshEndpoint({
      host: guest.ip,
      port: this.options.port,
      hostKey: this.impostor(guest.vmid) ? this.impostorKey.privateKey : machine.hostKey.privateKey,
      hostname: machine.spec.hostname,
      logger: this.options.logger,
      // sshd reads authorized_keys at each login: a key added inside the guest works at once, and one
      // removed (or rolled back) stops working; the configured cloud-init keys always do.
      authenticate: (context) =>
        context.username === machine.spec.user &&
        context.method === 'publickey' &&
        (publicKeyMatches(context, allowedKeys) ||
          publicKeyMatches(context, parseAuthorizedKeys(machine.authorizedKeys()))),
      shellFor: (user) => machine.shell(user, commandsOf()),
      serveSftp: (sftp, user) => serveSftp(sftp, machine.shell(user, commandsOf())),
      onExec: (user, command, exitCode) => machine.note({ kind: 'command', user, command, exitCode }),
      admit: (remote) => this.admit(guest.vmid, guest.ip!, remote),
    });
    await endpoint.listen();
    this.endpoints.set(guest.vmid, endpoint);
    this.listeningFor.set(guest.vmid, this.listenKey(guest));
    this.options.logger.debug({ vmId: guest.vmid, ip: guest.ip, port: this.options.port }, 'guest ssh up');
  }

  /**
   * A connection to the guest's SSH passes its management NIC's firewall like any packet from the
   * management network (source: the connection's real peer address, 127.0.0.1 for local clients).
   * A VM without a management NIC keeps the old unfiltered access.
   */
  private admit(vmid: number, ip: string, remote: string): 'accept' | 'reject' | 'drop' {
    const world = this.network.world();
    const nic = world.hosts.find((host) => host.vmid === vmid)?.nics.find((candidate) => candidate.address?.ip === ip);
    if (!nic?.management) return 'accept';
    const verdict = probeFromManagement(world, remote, { proto: 'tcp', dst: ip, dport: this.options.port });
    if (verdict.outcome === 'open') return 'accept';
    return verdict.outcome === 'refused' ? 'reject' : 'drop';
  }

  private async down(vmid: number) {
    await this.endpoints.get(vmid)?.close();
    this.endpoints.delete(vmid);
    this.listeningFor.delete(vmid);
    if (!this.options.sim.state.vms[vmid]) this.machines.delete(vmid);
  }

  /** What a listener was opened for: the same VM record and disk at the same address and keys. */
  private listenKey(guest: GuestView): string {
    const vm = this.options.sim.state.vms[guest.vmid];
    return JSON.stringify([vm?.startedAt, vm?.pid, guest.ip, guest.sshkeys, guest.ciuser, this.impostor(guest.vmid)]);
  }

  private impostor(vmid: number): boolean {
    return this.options.sim.faults.impostorAt(vmid);
  }

  private machineFor(guest: GuestView): GuestMachine {
    // The disk record in the state is the machine's identity: a reboot keeps it, a VM destroyed and
    // re-created under the same id (or a reset simulator) has none yet and gets a fresh one, and a
    // rollback or a loaded state file brings another, from which the machine is rebuilt.
    const sim = this.options.sim;
    const vm = sim.state.vms[guest.vmid];
    const existing = this.machines.get(guest.vmid);
    if (existing && vm?.guest && existing.disk === vm.guest) return existing;
    // A disk that has booted keeps its OS; at a first boot (a clone's inherited disk included) the
    // OS is read from the VM itself first, as for a fresh disk.
    const saved = vm?.guest?.hostKey ? guestOsProfiles[vm.guest.os as GuestOsId] : undefined;
    const os = saved ?? detectGuestOs(sim, guest.vmid, (vmid) => this.options.provenance.sourceOf(vmid));
    if (vm?.guest && !saved) vm.guest.os = os.id;
    const user = guest.ciuser ?? defaultUser[os.id];
    const hostname = guest.name.replace(/[^A-Za-z0-9.-]/g, '-');
    const machine = new GuestMachine(
      { vmid: guest.vmid, smbiosUuid: guest.config.smbios1 ?? '', os, hostname, user },
      (effect) => sim.recordGuestEffect(guest.vmid, effect),
      vm?.guest ?? GuestMachine.freshDisk(os),
    );
    if (vm) sim.attachGuestDisk(vm, machine.disk);
    this.machines.set(guest.vmid, machine);
    return machine;
  }
}
