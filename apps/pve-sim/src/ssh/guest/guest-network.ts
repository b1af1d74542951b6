/**
 * A guest's view of the network for its shell tools (`ip`, `ping`, `nc`, `curl`, `ss`): its NICs
 * and routes, connection attempts decided by the packet model against the cluster as it is now
 * (VMs up, the firewall as last compiled, other guests' listening sockets), name resolution
 * (/etc/hosts, then the configured or DHCP-given resolver, reached through the firewall like any
 * other packet), and waits on the simulator's time scale.
 */

import { isOutside, resolvePublicName } from '../../network/outside';
import { type NetworkWorld, type Probe, probeFromGuest, type Verdict } from '../../network/packet';
import {
  type GuestNic,
  type GuestRoute,
  guestNics,
  managementGateway,
  routesOf,
  type TopologyContext,
  topologyContext,
} from '../../network/topology';
import type { Simulator } from '../../sim';
import type { GuestRouteEntry } from '../../state/guest-disk';
import type { Vm } from '../../state/types';
import type { GuestMachine } from './guest-machine';
import { listeningSockets, type Socket } from './listeners';

/** How long things take at time scale 1, in ms. */
export const netTimings = {
  /** A neighbour that never answers ARP: the kernel gives up after three probes. */
  arpTimeout: 3000,
  /** A TCP SYN never answered: six retransmissions (tcp_syn_retries). */
  tcpConnectTimeout: 127000,
  /** A resolver that never answers: glibc's timeout × attempts. */
  dnsTimeout: 10000,
  /** A round trip on the simulated LAN. */
  rtt: 0.4,
};

export type Resolution = { ip: string } | { error: 'unknown' | 'unavailable' };

/** The cluster-wide part: builds worlds and keeps foreground listeners (`nc -l` waiting). */
export class GuestNetwork {
  /** `vmid/proto/port` → callbacks of foreground listeners waiting for a connection. */
  private readonly waiting = new Map<string, Array<() => void>>();
  private readonly keptNics = new WeakMap<Vm, { key: string; nics: readonly GuestNic[] }>();

  constructor(
    readonly sim: Simulator,
    private readonly machineOf: (vmid: number) => GuestMachine | undefined,
    /**
     * The port guests' sshd listens on: where the simulator serves their SSH (PVE_SIM_GUEST_SSH_PORT),
     * so a firewall rule for Glassdome's GUEST_SSH_PORT judges the same port inside and out.
     */
    readonly sshPort = 22,
  ) {}

  /** The inside of another guest (its OS, files, services), if it has booted since the simulator started. */
  machine(vmid: number): GuestMachine | undefined {
    return this.machineOf(vmid);
  }

  /**
   * A VM's NICs as `guestNics` gives them, kept while what they are made of stays the same: its
   * `netN`/`ipconfigN` entries, its lease, and the bridges and running SDN (`context`'s key). Every
   * SSH connection's admission and every probe reads the NICs of every VM; parsing them again each
   * time made a probe cost a parse per VM of the cluster. Frozen: worlds share them.
   */
  nicsOf(vm: Vm, context: { ctx: TopologyContext; key: string }): readonly GuestNic[] {
    let key = `${context.key}\n${vm.dhcpOffset}`;
    for (const name in vm.config) {
      if (name.startsWith('net') || name.startsWith('ipconfig')) key += `\n${name}=${vm.config[name]}`;
    }
    const kept = this.keptNics.get(vm);
    if (kept?.key === key) return kept.nics;
    const nics = Object.freeze(guestNics(vm, context.ctx).map((nic) => Object.freeze(nic)));
    this.keptNics.set(vm, { key, nics });
    return nics;
  }

  /** The topology context now, with a key that changes whenever what NICs are made of does. */
  context(): { ctx: TopologyContext; key: string } {
    const ctx = topologyContext(this.sim.state, this.sim.options.guestSubnet);
    const key = JSON.stringify([ctx.guestSubnet, ctx.bridges, ctx.sdn.zones, ctx.sdn.vnets]);
    return { ctx, key };
  }

  world(): NetworkWorld {
    const context = this.context();
    const now = Date.now();
    return {
      hosts: Object.values(this.sim.state.vms).map((vm) => ({
        vmid: vm.vmid,
        node: vm.node,
        up: vm.status === 'running' && vm.bootedAt !== undefined && vm.bootedAt <= now,
        nics: this.nicsOf(vm, context) as GuestNic[],
        ...(vm.guest ? { sysctl: vm.guest.kernelParameters, routes: vm.guest.routes ?? [] } : {}),
      })),
      firewallOn: (node) => this.sim.firewall.activeOn(node),
      firewallRunning: (node) => this.sim.firewall.runningOn(node),
      listening: (vmid, proto, port) => this.isListening(vmid, proto, port),
      guestSubnet: this.sim.options.guestSubnet,
    };
  }

  isListening(vmid: number, proto: Socket['proto'] | 'icmp', port: number | undefined): boolean {
    if (proto === 'icmp') return true;
    if ((this.waiting.get(`${vmid}/${proto}/${port}`)?.length ?? 0) > 0) return true;
    const machine = this.machineOf(vmid);
    if (!machine) return false;
    return listeningSockets(machine, this.sshPort).some((socket) => socket.proto === proto && socket.port === port);
  }

  /** Foreground sockets of a guest (for `ss`). */
  foreground(vmid: number): Socket[] {
    return [...this.waiting.entries()]
      .filter(([key, callbacks]) => key.startsWith(`${vmid}/`) && callbacks.length > 0)
      .map(([key]) => {
        const [, proto, port] = key.split('/');
        return { proto: proto as Socket['proto'], port: Number(port) };
      });
  }

  /** Resolves once a connection reaches the socket (or never); `cancel` stops listening. */
  listen(vmid: number, socket: Socket): { accepted: Promise<void>; cancel(): void } {
    const key = `${vmid}/${socket.proto}/${socket.port}`;
    let callback: () => void = () => undefined;
    const accepted = new Promise<void>((resolve) => {
      callback = resolve;
    });
    this.waiting.set(key, [...(this.waiting.get(key) ?? []), callback]);
    const cancel = () => {
      const left = (this.waiting.get(key) ?? []).filter((entry) => entry !== callback);
      if (left.length > 0) this.waiting.set(key, left);
      else this.waiting.delete(key);
    };
    return { accepted, cancel };
  }

  /** A connection reached a foreground listener: the first one waiting takes it. */
  deliver(vmid: number, proto: Socket['proto'], port: number | undefined): void {
    const key = `${vmid}/${proto}/${port}`;
    const [first, ...rest] = this.waiting.get(key) ?? [];
    if (!first) return;
    if (rest.length > 0) this.waiting.set(key, rest);
    else this.waiting.delete(key);
    first();
  }

  /** Sleeps `ms` of simulated time (scaled like every simulator latency). */
  wait(ms: number): Promise<void> {
    return this.sim.clock.delay(ms * this.sim.clock.timeScale);
  }

  forGuest(vmid: number): GuestNet {
    return new GuestNet(this, vmid);
  }
}

/** One guest's network as its tools see it. */
export class GuestNet {
  constructor(
    readonly network: GuestNetwork,
    readonly vmid: number,
  ) {}

  nics(): GuestNic[] {
    const vm = this.network.sim.state.vms[this.vmid];
    if (!vm) return [];
    return this.network.nicsOf(vm, this.network.context()) as GuestNic[];
  }

  /** The guest's own routing changes, as its disk record keeps them. */
  routeChanges(): GuestRouteEntry[] {
    return this.network.sim.state.vms[this.vmid]?.guest?.routes ?? [];
  }

  routes(): GuestRoute[] {
    return routesOf(this.nics(), this.routeChanges());
  }

  /** A connection attempt now; a delivery to a waiting `nc -l` wakes it. */
  probe(probe: Probe): Verdict {
    const verdict = probeFromGuest(this.network.world(), this.vmid, probe);
    const peer = verdict.peer;
    if (verdict.outcome === 'open' && probe.proto !== 'icmp' && peer) {
      const target = peer.kind === 'guest' ? peer.vmid : peer.kind === 'local' ? this.vmid : undefined;
      if (target !== undefined) this.network.deliver(target, probe.proto, probe.dport);
    }
    return verdict;
  }

  wait(ms: number): Promise<void> {
    return this.network.wait(ms);
  }

  /** The resolvers the guest asks: `nameserver` from cloud-init, else the DHCP lease's router. */
  nameservers(): string[] {
    const configured = this.network.sim.state.vms[this.vmid]?.config.nameserver;
    if (configured) return configured.split(/[\s,;]+/).filter(Boolean);
    const leased = this.nics().some((nic) => nic.address?.dynamic);
    return leased ? [managementGateway(this.network.sim.options.guestSubnet)] : [];
  }

  /** Name → IPv4 address: literal, localhost, /etc/hosts, then DNS (which must be reachable). */
  async resolve(name: string, machine: GuestMachine): Promise<Resolution> {
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return { ip: name };
    const lower = name.toLowerCase();
    if (lower === 'localhost') return { ip: '127.0.0.1' };
    if (lower === machine.spec.hostname.toLowerCase()) return { ip: '127.0.1.1' };
    const fromHosts = hostsFile(machine).get(lower);
    if (fromHosts) return { ip: fromHosts };
    let answered = false;
    for (const server of this.nameservers()) {
      const verdict = this.probe({ proto: 'udp', dst: server, dport: 53 });
      if (verdict.outcome !== 'open') {
        if (verdict.outcome === 'dropped') await this.wait(netTimings.dnsTimeout);
        continue;
      }
      answered = true;
      // The management router and outside resolvers know the public names; lab DNS servers are not modelled.
      const known = verdict.peer?.kind === 'router' || isOutside(server) ? resolvePublicName(lower) : undefined;
      if (known) return { ip: known };
      break;
    }
    return { error: answered ? 'unknown' : 'unavailable' };
  }
}

/** /etc/hosts of the guest: name → first IPv4 address. */
function hostsFile(machine: GuestMachine): Map<string, string> {
  const names = new Map<string, string>();
  if (machine.fs.stat('/etc/hosts')?.type !== 'file') return names;
  for (const line of machine.fs.readFile('/etc/hosts').toString().split('\n')) {
    const [address, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!address || !/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) continue;
    for (const alias of aliases) if (!names.has(alias.toLowerCase())) names.set(alias.toLowerCase(), address);
  }
  return names;
}
