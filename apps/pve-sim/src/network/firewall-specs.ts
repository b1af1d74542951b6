/**
 * The value formats of firewall rules and IPSets, checked the way pve-firewall's schema formats
 * check them (`pve-fw-addr-spec`, `pve-fw-dport-spec`, `pve-fw-sport-spec`,
 * `pve-fw-protocol-spec`, `pve-fw-icmp-type-spec`, `IPorCIDR`, `IPorCIDRorAlias`), each returning
 * PVE's complaint or undefined.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ipVersionOf } from './addresses';
import { icmpTypeNames, icmpv6TypeNames, isKnownProtocol, serviceNames } from './firewall-catalog';

/** Names of IPSets, aliases and security groups. */
export const objectNamePattern = /^[A-Za-z][A-Za-z0-9\-_]+$/;
export const maxIpsetNameLength = 64;
export const maxAliasNameLength = 64;
export const maxGroupNameLength = 18;

const aliasReference = /^(dc\/|guest\/)?[A-Za-z][A-Za-z0-9\-_]+$/;

/** One port list: `22`, `80,443`, `8000:8100`, `ssh`; for a dport of an ICMP rule also a type name. */
export function checkPortSpec(spec: string, allowIcmpNames: boolean): string | undefined {
  const items = spec.split(',');
  if (items.some((item) => item === '')) return 'extraneous commas in list';
  let count = 0;
  let icmpName = false;
  for (const item of items) {
    const range = /^(\d+):(\d+)$/.exec(item);
    if (range) {
      count += 2;
      const [from, to] = [Number(range[1]), Number(range[2])];
      if (from > 65535) return `invalid port '${range[1]}'`;
      if (to > 65535) return `invalid port '${range[2]}'`;
      if (from > to) return `backwards range '${from}:${to}' not allowed, did you mean '${to}:${from}'?`;
    } else if (/^\d+$/.test(item)) {
      count += 1;
      if (Number(item) > 65535) return `invalid port '${item}'`;
    } else if (allowIcmpNames && (icmpTypeNames.has(item) || icmpv6TypeNames.has(item))) {
      icmpName = true;
    } else if (!(item in serviceNames)) {
      return `invalid port '${item}'`;
    }
  }
  if (icmpName && count > 0) return 'ICMP ports not allowed in port range';
  if (count > 15) return 'too many entries in port list (> 15 numbers)';
  return undefined;
}

/** An address spec: `+ipset`, an alias, or a list of IPs/CIDRs (or one range). */
export function checkAddressSpec(spec: string): { error?: string; ipversion?: 4 | 6 } {
  if (/^\+\S+$/.test(spec)) {
    return spec.length > maxIpsetNameLength + 1 ? { error: 'ipset name too long' } : {};
  }
  if (aliasReference.test(spec)) {
    return spec.length > maxAliasNameLength ? { error: 'alias name too long' } : {};
  }
  const elements = spec.split(',');
  if (elements.some((element) => element === '')) return { error: 'extraneous commas in list' };
  let ipversion: 4 | 6 | undefined;
  let ranges = 0;
  for (const element of elements) {
    const version = element.includes('-') ? rangeVersion(element) : ipVersionOf(element);
    if (!version) return { error: `invalid IP address: Invalid IP ${element}` };
    if (element.includes('-')) ranges++;
    if (ipversion && version !== ipversion) {
      return { error: `detected mixed ipv4/ipv6 addresses in address list '${spec}'` };
    }
    ipversion = version;
  }
  if (ranges > 0 && elements.length > 1) return { error: "you can't use a range in a list" };
  return ipversion ? { ipversion } : {};
}

function rangeVersion(range: string): 4 | 6 | undefined {
  const [from, to, ...rest] = range.split('-');
  if (rest.length > 0 || !from || !to) return undefined;
  if (isIPv4(from) && isIPv4(to)) return 4;
  if (isIPv6(from) && isIPv6(to)) return 6;
  return undefined;
}

export function checkProtocol(proto: string): string | undefined {
  return isKnownProtocol(proto) ? undefined : `unknown protocol '${proto}'`;
}

export function checkIcmpType(type: string): string | undefined {
  if (type === '' || icmpTypeNames.has(type) || icmpv6TypeNames.has(type)) return undefined;
  return `invalid icmp-type value '${type}'`;
}

/** `IPorCIDR`: an address or a network. */
export function checkIpOrCidr(value: string): string | undefined {
  return ipVersionOf(value) ? undefined : 'value does not look like a valid IP address or CIDR network';
}

/** `IPorCIDRorAlias`: an address, a network or an alias name (optionally `dc/` or `guest/`). */
export function checkIpOrCidrOrAlias(value: string): string | undefined {
  return aliasReference.test(value) ? undefined : checkIpOrCidr(value);
}

export function isAliasReference(value: string): boolean {
  return aliasReference.test(value);
}

/** A name of an IPSet/alias/group: pattern, then length, in JSONSchema's order and words (the pattern implies 2+ characters). */
export function checkObjectName(value: string, maxLength: number): string | undefined {
  if (!objectNamePattern.test(value)) return 'value does not match the regex pattern';
  if (value.length > maxLength) return `value may only be ${maxLength} characters long`;
  return undefined;
}
