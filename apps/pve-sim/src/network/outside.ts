/**
 * The simulated "outside" beyond the management network's uplink: the documentation ranges
 * 198.51.100.0/24 and 203.0.113.0/24, where every address answers ping and serves HTTP on 80 and
 * HTTPS on 443 (other TCP ports refuse), and DNS resolvers that know `example.test` (and its
 * subdomains) as 198.51.100.10. Nothing else is out there: private and lab addresses, and any
 * other public address, never answer through the uplink. No packet leaves the machine.
 */
import { cidrContains, parseCidr } from './addresses';

export const outsideRanges = ['198.51.100.0/24', '203.0.113.0/24'].map((text) => parseCidr(text)!);

/** The address the simulated DNS gives `example.test`. */
export const exampleHost = '198.51.100.10';

export function isOutside(ip: string): boolean {
  return outsideRanges.some((range) => cidrContains(range, ip));
}

/** What an outside host does with a connection attempt: `open` (or an echo reply) or `refused`. */
export function outsideAnswer(proto: 'tcp' | 'udp' | 'icmp', port: number | undefined): 'open' | 'refused' {
  if (proto === 'icmp') return 'open';
  if (proto === 'tcp') return port === 80 || port === 443 || port === 53 ? 'open' : 'refused';
  return port === 53 ? 'open' : 'refused';
}

/** The simulated public DNS: `example.test` and `*.example.test` resolve, every other name does not. */
export function resolvePublicName(name: string): string | undefined {
  const lower = name.toLowerCase().replace(/\.$/, '');
  return lower === 'example.test' || lower.endsWith('.example.test') ? exampleHost : undefined;
}
