/**
 * The small languages of a lab's network policy: the ports of a rule (`tcp/80`, `udp/53`,
 * `tcp/8000-8100`, `icmp`) and the entries of an egress allowance (`203.0.113.5:443`,
 * `udp/198.51.100.53:53`, `0.0.0.0/0:80`, `icmp/203.0.113.0/24`). Parsers return a value or a
 * message, never throw, so the schema can report each bad entry at its own path.
 */
import { contains, formatIpv4, type Ipv4Network, overlaps, parseCidr, parseIpv4 } from './ipv4';

/** Protocols with ports. */
export type PortProtocol = 'tcp' | 'udp';
/** Protocols a rule or egress entry names. */
export type Protocol = PortProtocol | 'icmp';

/** An inclusive range of TCP or UDP ports; a single port has `from === to`. */
export interface PortRange {
  from: number;
  to: number;
}

/** What one entry of a rule's `ports` opens: a port range of TCP or UDP, or all of ICMP. */
export type PortSpec = ({ proto: PortProtocol } & PortRange) | { proto: 'icmp' };

/** One destination outside the lab that egress may reach. */
export interface EgressEntry {
  proto: Protocol;
  /** The destination: one address (/32) or a network. */
  network: Ipv4Network;
  /** Absent for ICMP, which has no ports. */
  ports?: PortRange;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const PORT_SPEC = /^(tcp|udp)\/(\d{1,5})(?:-(\d{1,5}))?$/;
const PORT_NUMBER = /^(0|[1-9]\d{0,4})$/;

/** Pattern of a port entry, for JSON Schema readers; `parsePortSpec` is the real check. */
export const PORT_SPEC_PATTERN = '^(icmp|(tcp|udp)/[0-9]{1,5}(-[0-9]{1,5})?)$';

function parsePortRange(fromText: string, toText: string | undefined): Parsed<PortRange> {
  if (!PORT_NUMBER.test(fromText) || (toText !== undefined && !PORT_NUMBER.test(toText))) {
    return { ok: false, message: 'ports are written without leading zeros' };
  }
  const from = Number(fromText);
  const to = toText === undefined ? from : Number(toText);
  for (const port of [from, to]) {
    if (port < 1 || port > 65535) return { ok: false, message: `port ${port} is outside 1–65535` };
  }
  if (from > to) return { ok: false, message: `${from}-${to} is not a range: it must run from low to high` };
  return { ok: true, value: { from, to } };
}

/** Reads one entry of a rule's `ports`: `tcp/80`, `udp/53`, `tcp/8000-8100` or `icmp`. */
export function parsePortSpec(text: string): Parsed<PortSpec> {
  if (text === 'icmp') return { ok: true, value: { proto: 'icmp' } };
  const match = PORT_SPEC.exec(text);
  if (!match) return { ok: false, message: 'must be tcp/PORT, udp/PORT, tcp/LOW-HIGH, udp/LOW-HIGH or icmp' };
  const range = parsePortRange(match[2]!, match[3]);
  if (!range.ok) return range;
  return { ok: true, value: { proto: match[1] as PortProtocol, ...range.value } };
}

/** Writes a port spec back in the spec's own form. */
export function formatPortSpec(spec: PortSpec): string {
  if (spec.proto === 'icmp') return 'icmp';
  return spec.from === spec.to ? `${spec.proto}/${spec.from}` : `${spec.proto}/${spec.from}-${spec.to}`;
}

const EGRESS_ENTRY = /^(?:(tcp|udp|icmp)\/)?(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?(?::(\d{1,5})(?:-(\d{1,5}))?)?$/;

/** Pattern of an egress entry, for JSON Schema readers; `parseEgressEntry` is the real check. */
export const EGRESS_ENTRY_PATTERN =
  '^((tcp|udp|icmp)/)?[0-9]{1,3}(\\.[0-9]{1,3}){3}(/[0-9]{1,2})?(:[0-9]{1,5}(-[0-9]{1,5})?)?$';

const EGRESS_FORM = 'must be [tcp/|udp/]ADDRESS[/PREFIX]:PORT[-PORT] or icmp/ADDRESS[/PREFIX], e.g. 203.0.113.5:443';

/**
 * Reads one egress entry: an optional protocol (`tcp/` by default, `udp/`, `icmp/`), an IPv4
 * address or network, and for TCP and UDP a port or port range after `:`. Host names are refused:
 * the firewall matches addresses, and a name's addresses change behind its back.
 */
export function parseEgressEntry(text: string): Parsed<EgressEntry> {
  const match = EGRESS_ENTRY.exec(text);
  if (!match) return { ok: false, message: EGRESS_FORM };
  const [, protoText, addressText, prefixText, fromText, toText] = match;
  const proto = (protoText ?? 'tcp') as Protocol;
  const network = parseCidr(`${addressText}/${prefixText ?? '32'}`);
  if (!network || parseIpv4(addressText!) === undefined) {
    return {
      ok: false,
      message: `${addressText}${prefixText ? `/${prefixText}` : ''} is not an IPv4 address or network`,
    };
  }
  if (network.address !== network.base) {
    return { ok: false, message: `${addressText}/${prefixText} has host bits set: give the network address` };
  }
  if (proto === 'icmp') {
    if (fromText !== undefined) return { ok: false, message: 'icmp has no ports' };
    return { ok: true, value: { proto, network: { base: network.base, prefix: network.prefix } } };
  }
  if (fromText === undefined) return { ok: false, message: `${proto} needs a port: ADDRESS:PORT or ADDRESS:LOW-HIGH` };
  const range = parsePortRange(fromText, toText);
  if (!range.ok) return range;
  return { ok: true, value: { proto, network: { base: network.base, prefix: network.prefix }, ports: range.value } };
}

/** An egress destination in PVE's address form: a bare address for a /32, else the CIDR. */
export function formatNetwork(network: Ipv4Network): string {
  return network.prefix === 32 ? formatIpv4(network.base) : `${formatIpv4(network.base)}/${network.prefix}`;
}

/**
 * Destinations egress never reaches, whatever the spec says: egress leaves through the management
 * NIC, and these ranges are where the management network, the node, other labs' guests and
 * cloud metadata services live. The management network's own ranges are added by the compiler.
 */
export const NEVER_EGRESS_RANGES: readonly string[] = [
  '0.0.0.0/8', // "this network"
  '10.0.0.0/8', // private
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local, including metadata services
  '172.16.0.0/12', // private
  '192.168.0.0/16', // private
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved and broadcast
];

const neverEgress = NEVER_EGRESS_RANGES.map((text) => parseCidr(text)!);

/** The never-egress range that holds all of `network`, if one does. */
export function forbiddenEgressRange(network: Ipv4Network): string | undefined {
  const index = neverEgress.findIndex((range) => range.prefix <= network.prefix && contains(range, network.base));
  return index < 0 ? undefined : NEVER_EGRESS_RANGES[index];
}

/** Whether egress may ever reach `address`: false inside any never-egress range. */
export function isEgressAddress(address: number): boolean {
  return !neverEgress.some((range) => contains(range, address));
}

/** Whether `network` touches a never-egress range at all. */
export function touchesForbiddenEgress(network: Ipv4Network): boolean {
  return neverEgress.some((range) => overlaps(range, network));
}
