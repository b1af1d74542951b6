/**
 * The packet decision: what happens to a connection attempt (TCP SYN, UDP datagram, ICMP echo)
 * a guest makes, or one made from the management network towards a guest. Pure: everything it
 * needs comes in a NetworkWorld.
 *
 * A packet leaves by the guest's route (connected subnet, else default route); the next hop must
 * answer ARP on the NIC's segment (a booted VM holding that address, or the management router);
 * then the source NIC's OUT chain judges it, then (when a VM receives it) the destination NIC's
 * IN chain, and last the receiver's sockets decide: listening → open, else refused (TCP RST,
 * ICMP port unreachable). Guests never forward; the management router forwards only to the
 * simulated outside.
 */
import { cidrContains, parseCidr } from './addresses';
import type { CompiledFirewall } from './firewall-daemon';
import { type Action, type FilterResult, type Packet, type Proto, vmChainVerdict } from './firewall-eval';
import { isOutside, outsideAnswer } from './outside';
import { type GuestNic, managementGateway, managementSegment, routeTo } from './topology';

export type { Proto } from './firewall-eval';

export interface NetworkHost {
  vmid: number;
  node: string;
  /** Running with its guest OS booted: it answers ARP and has sockets. */
  up: boolean;
  nics: GuestNic[];
}

export interface NetworkWorld {
  hosts: NetworkHost[];
  firewall: CompiledFirewall;
  /** Whether pve-firewall runs on a node. */
  firewallRunning(node: string): boolean;
  /** Whether a guest has a socket listening (TCP/UDP port; ICMP echo always answers). */
  listening(vmid: number, proto: Proto, port: number | undefined): boolean;
  /** The management network (DHCP range), whose base + 1 is its router. */
  guestSubnet: string;
}

export interface Probe {
  proto: Proto;
  dst: string;
  dport?: number;
  /** @defaultValue an ephemeral port */
  sport?: number;
}

/**
 * - open: delivered and answered (TCP accepted, echo reply).
 * - refused: an answer that says no (TCP RST, ICMP port unreachable) from the host or a REJECT.
 * - dropped: silence until the sender's timeout.
 * - unreachable: `network` = no route (fails at once); `host` = nobody answers ARP (fails after ~3 s).
 */
export type Outcome = 'open' | 'refused' | 'dropped' | 'unreachable';

export interface Verdict {
  outcome: Outcome;
  unreachable?: 'network' | 'host';
  /** The source address the packet left with. */
  src?: string;
  /** Why, e.g. `VM 105 net0 in: policy DROP`. */
  reason: string;
  /** Who answered an open or refused attempt: a guest, the management router, or an outside host. */
  peer?: { kind: 'guest'; vmid: number } | { kind: 'router' } | { kind: 'outside' } | { kind: 'local' };
}

const ephemeralPort = 43512;

function host(world: NetworkWorld, vmid: number): NetworkHost | undefined {
  return world.hosts.find((candidate) => candidate.vmid === vmid);
}

/** The NIC's chain verdict, or ACCEPT when no chain filters it (firewall off at any level). */
export function filterAt(
  world: NetworkWorld,
  owner: NetworkHost,
  nic: GuestNic,
  direction: 'in' | 'out',
  packet: Packet,
): FilterResult {
  const { firewall } = world;
  const where = `VM ${owner.vmid} ${nic.netId} ${direction}`;
  if (!firewall.enabled) return { action: 'ACCEPT', by: `${where}: cluster firewall disabled` };
  if (!world.firewallRunning(owner.node))
    return { action: 'ACCEPT', by: `${where}: pve-firewall stopped on ${owner.node}` };
  const compiled = firewall.vms[String(owner.vmid)];
  if (!nic.firewall || !compiled?.nets[nic.netId]) return { action: 'ACCEPT', by: `${where}: NIC not filtered` };
  if (compiled.scope.options.enable !== 1) return { action: 'ACCEPT', by: `${where}: VM firewall disabled` };
  return vmChainVerdict(firewall, owner.vmid, nic.netId, direction, packet);
}

/** A REJECT answers TCP with a reset and UDP with port-unreachable; ICMP is dropped (PVEFW-reject). */
function blocked(action: Action, proto: Proto, by: string, src: string): Verdict | undefined {
  if (action === 'ACCEPT') return undefined;
  const outcome = action === 'REJECT' && proto !== 'icmp' ? 'refused' : 'dropped';
  return { outcome, src, reason: by };
}

function answered(listening: boolean, src: string, reason: string, peer: Verdict['peer']): Verdict {
  const verdict: Verdict = listening
    ? { outcome: 'open', src, reason }
    : { outcome: 'refused', src, reason: `${reason}: nothing listening` };
  if (peer) verdict.peer = peer;
  return verdict;
}

/** Who holds `ip` on `segment`: a booted VM's NIC (lowest vmid wins an address conflict). */
function neighbour(
  world: NetworkWorld,
  segment: string,
  ip: string,
): { owner: NetworkHost; nic: GuestNic } | undefined {
  const holders = world.hosts
    .filter((candidate) => candidate.up)
    .flatMap((owner) =>
      owner.nics.filter((nic) => nic.segment === segment && nic.address?.ip === ip).map((nic) => ({ owner, nic })),
    )
    .sort((a, b) => a.owner.vmid - b.owner.vmid);
  return holders[0];
}

/** A connection attempt from guest `fromVmid`. */
export function probeFromGuest(world: NetworkWorld, fromVmid: number, probe: Probe): Verdict {
  const source = host(world, fromVmid);
  if (!source?.up) return { outcome: 'unreachable', unreachable: 'network', reason: `VM ${fromVmid} is not up` };
  const own = source.nics.find((nic) => nic.address?.ip === probe.dst);
  const loopback =
    cidrContains(parseCidr('127.0.0.0/8')!, probe.dst) && !cidrContains(parseCidr(world.guestSubnet)!, probe.dst);
  if (own || loopback) {
    const listening = probe.proto === 'icmp' || world.listening(fromVmid, probe.proto, probe.dport);
    return answered(listening, own?.address?.ip ?? '127.0.0.1', 'local delivery', { kind: 'local' });
  }
  const route = routeTo(source.nics, probe.dst);
  if (!route) return { outcome: 'unreachable', unreachable: 'network', reason: `no route to ${probe.dst}` };
  const src = route.nic.address!.ip;
  const segment = route.nic.segment!;
  const packet: Packet = { src, dst: probe.dst, proto: probe.proto, sport: probe.sport ?? ephemeralPort };
  if (probe.dport !== undefined) packet.dport = probe.dport;
  const router = segment === managementSegment && route.nextHop === managementGateway(world.guestSubnet);
  const next = router ? undefined : neighbour(world, segment, route.nextHop);
  if (!router && !next) {
    return {
      outcome: 'unreachable',
      unreachable: 'host',
      src,
      reason: `no host answers ARP for ${route.nextHop} on ${segment}`,
    };
  }
  const out = filterAt(world, source, route.nic, 'out', packet);
  const stopped = blocked(out.action, probe.proto, out.by, src);
  if (stopped) return stopped;
  if (router) return viaRouter(world, packet, src, out.by);
  if (route.nextHop !== probe.dst)
    return { outcome: 'dropped', src, reason: `VM ${next!.owner.vmid} does not forward` };
  const inbound = filterAt(world, next!.owner, next!.nic, 'in', packet);
  const refused = blocked(inbound.action, probe.proto, inbound.by, src);
  if (refused) return refused;
  const listening = probe.proto === 'icmp' || world.listening(next!.owner.vmid, probe.proto, probe.dport);
  return answered(listening, src, `delivered to VM ${next!.owner.vmid} ${next!.nic.netId} (${inbound.by})`, {
    kind: 'guest',
    vmid: next!.owner.vmid,
  });
}

/** The management router answers DNS and ping itself and forwards only to the simulated outside. */
function viaRouter(world: NetworkWorld, packet: Packet, src: string, passed: string): Verdict {
  const gateway = managementGateway(world.guestSubnet);
  if (packet.dst === gateway) {
    const open = packet.proto === 'icmp' || packet.dport === 53;
    return answered(open, src, 'management router', { kind: 'router' });
  }
  if (isOutside(packet.dst)) {
    return answered(outsideAnswer(packet.proto, packet.dport) === 'open', src, `outside host (${passed})`, {
      kind: 'outside',
    });
  }
  return { outcome: 'dropped', src, reason: `the uplink does not reach ${packet.dst}` };
}

/**
 * A connection attempt from the management network itself (the node, Glassdome's workers) at
 * `srcIp` towards a guest's management address: only the destination's IN chain judges it.
 */
export function probeFromManagement(world: NetworkWorld, srcIp: string, probe: Probe): Verdict {
  const target = neighbour(world, managementSegment, probe.dst);
  if (!target) {
    return { outcome: 'unreachable', unreachable: 'host', src: srcIp, reason: `no guest holds ${probe.dst}` };
  }
  const packet: Packet = { src: srcIp, dst: probe.dst, proto: probe.proto, sport: probe.sport ?? ephemeralPort };
  if (probe.dport !== undefined) packet.dport = probe.dport;
  const inbound = filterAt(world, target.owner, target.nic, 'in', packet);
  const refused = blocked(inbound.action, probe.proto, inbound.by, srcIp);
  if (refused) return refused;
  const listening = probe.proto === 'icmp' || world.listening(target.owner.vmid, probe.proto, probe.dport);
  return answered(listening, srcIp, `delivered to VM ${target.owner.vmid} ${target.nic.netId}`, {
    kind: 'guest',
    vmid: target.owner.vmid,
  });
}
