/**
 * The packet decision: what happens to a connection attempt (TCP SYN, UDP datagram, ICMP echo)
 * a guest makes, or one made from the management network towards a guest. Pure: everything it
 * needs comes in a NetworkWorld.
 *
 * A packet leaves by the sender's routing table (longest prefix: connected subnets, routes the
 * guest added, the default route); the next hop must answer ARP on the NIC's segment (a booted VM
 * holding that address, or the management router). Each crossing of a bridge is judged as
 * pve-firewall judges bridged traffic: the sending tap's OUT chain, then the receiving tap's IN
 * chain, both on the packet's own addresses. A VM that receives a packet for an address it does
 * not hold forwards it only with `net.ipv4.ip_forward=1` (else it is dropped silently): the TTL
 * goes down by one, its own table picks the way on (no route: ICMP net unreachable back; a next
 * hop that does not answer ARP: host unreachable), and the packet crosses the next bridge through
 * the router's OUT chain on that NIC and the next receiver's IN chain. The VM holding the
 * destination address (on any of its NICs) delivers it to its sockets: listening → open, else
 * refused (TCP RST, ICMP port unreachable).
 *
 * The answer (and any ICMP error) travels back by the answering host's own table and the routers
 * on the way, which must forward too; conntrack accepts it at every tap (PVEFW-FORWARD accepts
 * ESTABLISHED and RELATED before any VM chain), so only routing can lose it, and then the sender
 * hears nothing. The management router forwards only to the simulated outside, and only for its
 * own network's addresses (nothing routes the lab's back to it).
 */

import type { GuestRouteEntry } from '../state/guest-disk';
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
  /** The guest's kernel parameters (`sysctl`): `net.ipv4.ip_forward` and per-NIC `forwarding`. */
  sysctl?: Readonly<Record<string, string>>;
  /** The guest's own changes to its routing table (`ip route add|replace|del`). */
  routes?: readonly GuestRouteEntry[];
}

export interface NetworkWorld {
  hosts: NetworkHost[];
  /** The ruleset in force on a node (its pve-firewall's last compile). */
  firewallOn(node: string): CompiledFirewall;
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
 * - unreachable: `network` = no route (fails at once: the sender's own table, or a router's ICMP
 *   net unreachable); `host` = nobody answers ARP (fails after ~3 s: the sender's own neighbour
 *   lookup, or a router's ICMP host unreachable), or a router's ICMP time exceeded (at once).
 */
export type Outcome = 'open' | 'refused' | 'dropped' | 'unreachable';

/** An ICMP error a router on the way sent back (and that reached the sender). */
export interface IcmpError {
  /** The router's address it came from (that of the NIC the packet reached it on). */
  from: string;
  type: 'net-unreachable' | 'host-unreachable' | 'time-exceeded';
}

export interface Verdict {
  outcome: Outcome;
  unreachable?: 'network' | 'host';
  /** When a router on the way answered with an ICMP error, rather than the sender's own kernel. */
  icmp?: IcmpError;
  /** The source address the packet left with. */
  src?: string;
  /** Why, e.g. `VM 105 net0 in: policy DROP`. */
  reason: string;
  /** Who answered an open or refused attempt: a guest, the management router, or an outside host. */
  peer?: { kind: 'guest'; vmid: number } | { kind: 'router' } | { kind: 'outside' } | { kind: 'local' };
  /** The TTL the answer arrived with (64 less one per router it crossed); set for open and refused. */
  ttl?: number;
  /** The guests that forwarded the packet on its way there, in order. */
  via?: number[];
}

const ephemeralPort = 43512;
/** Linux's default TTL for what it sends (net.ipv4.ip_default_ttl). */
export const defaultTtl = 64;

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
  // The rules in force are those the owner's node compiled.
  const firewall = world.firewallOn(owner.node);
  const where = `VM ${owner.vmid} ${nic.netId} ${direction}`;
  if (!firewall.enabled) return { action: 'ACCEPT', by: `${where}: cluster firewall disabled` };
  if (!world.firewallRunning(owner.node))
    return { action: 'ACCEPT', by: `${where}: pve-firewall stopped on ${owner.node}` };
  const compiled = firewall.vms[String(owner.vmid)];
  if (!nic.firewall || !compiled?.nets[nic.netId]) return { action: 'ACCEPT', by: `${where}: NIC not filtered` };
  if (compiled.scope.options.enable !== 1) return { action: 'ACCEPT', by: `${where}: VM firewall disabled` };
  return vmChainVerdict(firewall, owner.vmid, nic.netId, direction, packet);
}

/**
 * Whether a guest forwards what arrives on `nic` for another address: the NIC's own
 * `net.ipv4.conf.<nic>.forwarding` when set, else `net.ipv4.ip_forward` (= `conf.all.forwarding`).
 */
export function forwards(owner: NetworkHost, nic: GuestNic): boolean {
  const sysctl = owner.sysctl ?? {};
  const value =
    sysctl[`net.ipv4.conf.${nic.name}.forwarding`] ??
    sysctl['net.ipv4.ip_forward'] ??
    sysctl['net.ipv4.conf.all.forwarding'] ??
    '0';
  return value.trim() === '1';
}

/** A REJECT answers TCP with a reset and UDP with port-unreachable; ICMP is dropped (PVEFW-reject). */
function blocked(action: Action, proto: Proto, by: string, src: string): Verdict | undefined {
  if (action === 'ACCEPT') return undefined;
  const outcome = action === 'REJECT' && proto !== 'icmp' ? 'refused' : 'dropped';
  return { outcome, src, reason: by };
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

/**
 * Whether a guest holds `ip` on any NIC, its link up or not (Linux delivers locally whichever NIC the
 * packet came in on).
 */
function holds(owner: NetworkHost, ip: string): boolean {
  return owner.nics.some((nic) => nic.address?.ip === ip);
}

/** Where a walk of one packet through the guests ended. */
type Arrival =
  /** At the VM holding the destination, through every chain on the way. */
  | { end: 'guest'; owner: NetworkHost; nic: GuestNic; ttl: number; via: number[]; passed: string }
  /** At the management router, from `owner`'s NIC `nic`. */
  | { end: 'uplink'; owner: NetworkHost; nic: GuestNic; ttl: number; via: number[]; passed: string }
  /** Stopped on the way; `icmp` when a router sends an error back to the packet's source. */
  | { end: 'stopped'; verdict: Omit<Verdict, 'src'>; icmp?: { router: NetworkHost; error: IcmpError } };

/**
 * Carries `packet` from `start` hop by hop until a VM holding its destination takes it, the
 * management router does, or it is lost. `judged`: a connection's first packet, which every tap's
 * chains judge; an answer rides conntrack and meets no chain.
 */
function walk(world: NetworkWorld, packet: Packet, start: NetworkHost, judged: boolean): Arrival {
  let current = start;
  let ingress: GuestNic | undefined;
  let ttl = defaultTtl;
  const via: number[] = [];
  let passed = '';
  for (;;) {
    if (ingress) {
      // `current` got a packet for an address it does not hold: a router, or a dead end.
      if (!forwards(current, ingress)) {
        return {
          end: 'stopped',
          verdict: { outcome: 'dropped', reason: `VM ${current.vmid} does not forward (net.ipv4.ip_forward = 0)` },
        };
      }
      const from = ingress.address!.ip;
      if (ttl <= 1) {
        return {
          end: 'stopped',
          verdict: { outcome: 'unreachable', unreachable: 'host', reason: `TTL exceeded at VM ${current.vmid}` },
          icmp: { router: current, error: { from, type: 'time-exceeded' } },
        };
      }
      ttl -= 1;
      via.push(current.vmid);
    }
    const route = routeTo(current.nics, packet.dst, current.routes);
    if (!route) {
      const reason = `VM ${current.vmid} has no route to ${packet.dst}`;
      return ingress
        ? {
            end: 'stopped',
            verdict: { outcome: 'unreachable', unreachable: 'network', reason },
            icmp: { router: current, error: { from: ingress.address!.ip, type: 'net-unreachable' } },
          }
        : {
            end: 'stopped',
            verdict: { outcome: 'unreachable', unreachable: 'network', reason: `no route to ${packet.dst}` },
          };
    }
    const segment = route.nic.segment!;
    const toRouter = segment === managementSegment && route.nextHop === managementGateway(world.guestSubnet);
    const next = toRouter ? undefined : neighbour(world, segment, route.nextHop);
    if (!toRouter && !next) {
      const reason = `no host answers ARP for ${route.nextHop} on ${segment}`;
      return ingress
        ? {
            end: 'stopped',
            verdict: { outcome: 'unreachable', unreachable: 'host', reason: `${reason} (asked by VM ${current.vmid})` },
            icmp: { router: current, error: { from: ingress.address!.ip, type: 'host-unreachable' } },
          }
        : { end: 'stopped', verdict: { outcome: 'unreachable', unreachable: 'host', reason } };
    }
    if (judged) {
      const out = filterAt(world, current, route.nic, 'out', packet);
      const stopped = blocked(out.action, packet.proto, out.by, packet.src);
      if (stopped) return { end: 'stopped', verdict: stopped };
      passed += `${passed ? ', ' : ''}${out.by}`;
    }
    if (toRouter) return { end: 'uplink', owner: current, nic: route.nic, ttl, via, passed };
    if (judged) {
      const inbound = filterAt(world, next!.owner, next!.nic, 'in', packet);
      const stopped = blocked(inbound.action, packet.proto, inbound.by, packet.src);
      if (stopped) return { end: 'stopped', verdict: stopped };
      passed += `, ${inbound.by}`;
    }
    if (holds(next!.owner, packet.dst)) return { end: 'guest', owner: next!.owner, nic: next!.nic, ttl, via, passed };
    current = next!.owner;
    ingress = next!.nic;
  }
}

/** The reverse of a packet: what its answer (or an error about it) looks like. */
function answerTo(packet: Packet, from = packet.dst): Packet {
  const answer: Packet = { src: from, dst: packet.src, proto: packet.proto };
  if (packet.dport !== undefined) answer.sport = packet.dport;
  if (packet.sport !== undefined) answer.dport = packet.sport;
  return answer;
}

/**
 * Carries an answer from `responder` back to the sender `source` (no chains: conntrack); the TTL it
 * arrives with, or why it is lost.
 */
function answerBack(
  world: NetworkWorld,
  answer: Packet,
  responder: NetworkHost,
  source: NetworkHost,
): { ttl: number } | { lost: string } {
  const arrival = walk(world, answer, responder, false);
  if (arrival.end === 'guest' && arrival.owner.vmid === source.vmid) return { ttl: arrival.ttl };
  if (arrival.end === 'stopped') return { lost: arrival.verdict.reason };
  if (arrival.end === 'uplink') return { lost: `VM ${arrival.owner.vmid} sends it to the management router` };
  return { lost: `it reaches VM ${arrival.owner.vmid} instead` };
}

function answered(listening: boolean, src: string, reason: string, peer: Verdict['peer'], ttl: number): Verdict {
  const verdict: Verdict = listening
    ? { outcome: 'open', src, reason, ttl }
    : { outcome: 'refused', src, reason: `${reason}: nothing listening`, ttl };
  if (peer) verdict.peer = peer;
  return verdict;
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
    return answered(listening, own?.address?.ip ?? '127.0.0.1', 'local delivery', { kind: 'local' }, defaultTtl);
  }
  const route = routeTo(source.nics, probe.dst, source.routes);
  if (!route) return { outcome: 'unreachable', unreachable: 'network', reason: `no route to ${probe.dst}` };
  const src = route.nic.address!.ip;
  const packet: Packet = { src, dst: probe.dst, proto: probe.proto, sport: probe.sport ?? ephemeralPort };
  if (probe.dport !== undefined) packet.dport = probe.dport;
  const arrival = walk(world, packet, source, true);
  if (arrival.end === 'stopped') {
    const verdict: Verdict = { ...arrival.verdict, src };
    if (!arrival.icmp) return verdict;
    // The router's ICMP error travels back like any answer; lost on the way, the sender hears nothing.
    const back = answerBack(world, answerTo(packet, arrival.icmp.error.from), arrival.icmp.router, source);
    if ('lost' in back)
      return { outcome: 'dropped', src, reason: `${verdict.reason}; its ICMP error is lost: ${back.lost}` };
    return { ...verdict, icmp: arrival.icmp.error };
  }
  const via = arrival.via.length > 0 ? ` via VM ${arrival.via.join(', VM ')}` : '';
  if (arrival.end === 'uplink') return viaRouter(world, packet, arrival, source);
  const target = arrival.owner;
  const listening = probe.proto === 'icmp' || world.listening(target.vmid, probe.proto, probe.dport);
  const back = answerBack(world, answerTo(packet), target, source);
  if ('lost' in back) {
    return { outcome: 'dropped', src, reason: `VM ${target.vmid} answers, but the answer is lost: ${back.lost}` };
  }
  const verdict = answered(
    listening,
    src,
    `delivered to VM ${target.vmid} ${arrival.nic.netId}${via} (${arrival.passed})`,
    { kind: 'guest', vmid: target.vmid },
    back.ttl,
  );
  if (arrival.via.length > 0) verdict.via = arrival.via;
  return verdict;
}

/**
 * The management router answers DNS and ping itself and forwards only to the simulated outside;
 * it answers only its own network's addresses (lab addresses a guest forwarded have no way back).
 */
function viaRouter(
  world: NetworkWorld,
  packet: Packet,
  arrival: Extract<Arrival, { end: 'uplink' }>,
  source: NetworkHost,
): Verdict {
  const { src } = packet;
  const gateway = managementGateway(world.guestSubnet);
  const fromGuest = arrival.via.length > 0 ? ` (forwarded by VM ${arrival.via.join(', VM ')})` : '';
  if (!cidrContains(parseCidr(world.guestSubnet)!, src)) {
    return { outcome: 'dropped', src, reason: `the management router has no way back to ${src}${fromGuest}` };
  }
  const home = neighbour(world, managementSegment, src);
  if (home?.owner.vmid !== source.vmid) {
    return { outcome: 'dropped', src, reason: `the management router answers ${src} elsewhere${fromGuest}` };
  }
  const hops = arrival.via.length;
  if (packet.dst === gateway) {
    const open = packet.proto === 'icmp' || packet.dport === 53;
    return answered(open, src, 'management router', { kind: 'router' }, defaultTtl - hops);
  }
  if (isOutside(packet.dst)) {
    return answered(
      outsideAnswer(packet.proto, packet.dport) === 'open',
      src,
      `outside host (${arrival.passed})`,
      { kind: 'outside' },
      defaultTtl - 1 - hops,
    );
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
  return answered(
    listening,
    srcIp,
    `delivered to VM ${target.owner.vmid} ${target.nic.netId}`,
    { kind: 'guest', vmid: target.owner.vmid },
    defaultTtl,
  );
}
