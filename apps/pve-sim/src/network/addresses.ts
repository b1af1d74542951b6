/**
 * IPv4 arithmetic for the packet model and address checks for the firewall API. Only IPv4 is
 * routed in the simulation; IPv6 is accepted where PVE accepts it (rules, IPSets, aliases) and
 * simply never matches an IPv4 packet.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** A network as first address and prefix length. */
export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function intToIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `10.1.2.3/24` → network 10.1.2.0/24; a bare address is a /32. IPv4 only; undefined otherwise. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, bits, ...rest] = text.split('/');
  if (rest.length > 0 || !address || !isIPv4(address)) return undefined;
  const prefix = bits === undefined ? 32 : Number(bits);
  if (!/^\d{1,2}$/.test(bits ?? '32') || prefix > 32) return undefined;
  return { base: (ipToInt(address) & maskOf(prefix)) >>> 0, prefix };
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  return (ipToInt(ip) & maskOf(cidr.prefix)) >>> 0 === cidr.base;
}

export function formatCidr(cidr: Cidr): string {
  return `${intToIp(cidr.base)}/${cidr.prefix}`;
}

/** The broadcast address of the network an address/prefix lies in. */
export function broadcastOf(ip: string, prefix: number): string {
  return intToIp(((ipToInt(ip) & maskOf(prefix)) | (~maskOf(prefix) >>> 0)) >>> 0);
}

/** The network (`10.1.2.0/24`) an address/prefix lies in. */
export function networkOf(ip: string, prefix: number): string {
  return `${intToIp((ipToInt(ip) & maskOf(prefix)) >>> 0)}/${prefix}`;
}

/** Whether `ip` lies inside an `a.b.c.d-e.f.g.h` range (IPv4). */
export function rangeContains(range: string, ip: string): boolean {
  const [from, to] = range.split('-');
  if (!from || !to || !isIPv4(from) || !isIPv4(to)) return false;
  const value = ipToInt(ip);
  return value >= ipToInt(from) && value <= ipToInt(to);
}

/** IP version of an address or CIDR (`4`, `6`), or undefined when it is neither. */
export function ipVersionOf(text: string): 4 | 6 | undefined {
  const [address, bits, ...rest] = text.split('/');
  if (rest.length > 0 || !address) return undefined;
  const version = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (!version || bits === undefined) return version;
  if (!/^\d+$/.test(bits) || Number(bits) > (version === 4 ? 32 : 128)) return undefined;
  return version;
}

/**
 * PVE's normal form of an IP/CIDR: host bits cleared, and a full-length prefix (`/32`, `/128`)
 * dropped, as the firewall's config parser stores it.
 */
export function normalizeCidr(text: string): string {
  const version = ipVersionOf(text);
  if (version !== 4) return text.replace(/\/128$/, '');
  const [address, bits] = text.split('/');
  if (bits === undefined || bits === '32') return address!;
  return formatCidr(parseCidr(text)!);
}

/** RFC 1918, CGNAT, link-local and loopback space: never reachable through the simulated uplink. */
export const privateRanges = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16'].map(
  (text) => parseCidr(text)!,
);
