/** IPv4 arithmetic for lab networks: addresses as unsigned 32-bit numbers. */

export interface Ipv4Network {
  /** Network address. */
  base: number;
  /** Prefix length, 0–32. */
  prefix: number;
}

const OCTET = /^(0|[1-9]\d{0,2})$/;

/** Parses a dotted quad ("10.0.0.1"); leading zeros are refused since some tools read them as octal. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "a.b.c.d/n" without judging whether host bits are set. */
export function parseCidr(text: string): (Ipv4Network & { address: number }) | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === undefined || !/^(0|[1-9]\d?)$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > 32) return undefined;
  return { address, prefix, base: (address & maskOf(prefix)) >>> 0 };
}

export function networkSize(network: Ipv4Network): number {
  return 2 ** (32 - network.prefix);
}

export function broadcastOf(network: Ipv4Network): number {
  return network.base + networkSize(network) - 1;
}

export function contains(network: Ipv4Network, address: number): boolean {
  return address >= network.base && address <= broadcastOf(network);
}

export function overlaps(a: Ipv4Network, b: Ipv4Network): boolean {
  return a.base <= broadcastOf(b) && b.base <= broadcastOf(a);
}

/** Addresses a guest may use: all but the network, broadcast and gateway addresses. */
export function guestCapacity(network: Ipv4Network): number {
  return Math.max(0, networkSize(network) - 3);
}
