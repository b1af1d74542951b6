/** What the firewall compiler needs to know about the deployment, beyond the spec. */
import { formatIpv4, type Ipv4Network, overlaps, parseCidr } from '../spec/ipv4';
import { formatNetwork } from '../spec/policy';
import type { LabSpec } from '../spec/resolve';
import { PVE_ADDRESS_MAX_LENGTH, PVE_IPSET_NAME } from './limits';

/** How Glassdome reaches guests: from where, over which network, on which port. */
export interface ManagementAccess {
  /**
   * Addresses or CIDRs Glassdome reaches guests from (SSH for post-configuration, probes,
   * terminals). Compiled into the management ssh rule's source (into each VM's own `gd-mgmt` IPSet
   * when they are more than 512 characters). Give this or `sourcesIpset`.
   */
  sources?: string[];
  /**
   * A cluster IPSet, kept by the deployment, that holds those sources; rules name it as
   * `+dc/<name>`. Give this or `sources`.
   */
  sourcesIpset?: string;
  /** The network management NICs take their DHCP addresses from (e.g. `192.168.10.0/24`). */
  guestCidr: string;
  /** Port guests' SSH listens on. @defaultValue 22 */
  sshPort?: number;
}

/** The deployment facts one copy's firewall is compiled with. */
export interface FirewallContext {
  management: ManagementAccess;
  /**
   * Each VM instance's management address, when known before the firewall is applied: its
   * `ipfilter-net{k}` is pinned to it. Otherwise the whole `guestCidr` is allowed there.
   * @defaultValue {}
   */
  managementAddresses?: Readonly<Record<string, string>>;
  /** Put into every comment as `gd:<tag>` (e.g. the lab id and copy), so a reader knows whose rules they are. */
  tag?: string;
}

/** The deployment's firewall context cannot work with this spec, or is malformed. */
export class FirewallContextError extends Error {
  override readonly name = 'FirewallContextError';
}

/** A checked context, in the compiler's terms. */
export interface ResolvedContext {
  /**
   * Glassdome's sources: a list (each network once; `inline` is the list as one rule's `source`, a
   * comma list PVE takes in one field, when it fits its 512 characters) or a cluster IPSet.
   */
  sources: { kind: 'list'; ranges: Ipv4Network[]; inline: string | undefined } | { kind: 'ipset'; name: string };
  guestCidr: Ipv4Network;
  sshPort: number;
  managementAddresses: Readonly<Record<string, string>>;
  commentPrefix: string;
}

function cidrOrAddress(text: string, what: string): Ipv4Network {
  const parsed = parseCidr(text.includes('/') ? text : `${text}/32`);
  if (!parsed || parsed.address !== parsed.base) {
    throw new FirewallContextError(`${what} must be an IPv4 address or network address/prefix, got ${text}`);
  }
  return { base: parsed.base, prefix: parsed.prefix };
}

function resolveSources(management: ManagementAccess): ResolvedContext['sources'] {
  if ((management.sources === undefined) === (management.sourcesIpset === undefined)) {
    throw new FirewallContextError('management needs exactly one of sources and sourcesIpset');
  }
  if (management.sourcesIpset !== undefined) {
    if (!PVE_IPSET_NAME.test(management.sourcesIpset)) {
      throw new FirewallContextError(`management.sourcesIpset ${management.sourcesIpset} is not a valid IPSet name`);
    }
    return { kind: 'ipset', name: management.sourcesIpset };
  }
  if (management.sources!.length === 0) throw new FirewallContextError('management.sources is empty');
  // Each network once: PVE refuses a second equal entry in an IPSet (a comma list would take it).
  const byText = new Map<string, Ipv4Network>();
  for (const text of management.sources!) {
    const range = cidrOrAddress(text, 'management.sources');
    byText.set(formatNetwork(range), range);
  }
  const inline = [...byText.keys()].join(',');
  return {
    kind: 'list',
    ranges: [...byText.values()],
    inline: inline.length <= PVE_ADDRESS_MAX_LENGTH ? inline : undefined,
  };
}

/** Checks the context against the spec: the management network must not overlap a lab network. */
export function resolveContext(spec: LabSpec, context: FirewallContext): ResolvedContext {
  const { management } = context;
  const guestCidr = cidrOrAddress(management.guestCidr, 'management.guestCidr');
  const sources = resolveSources(management);
  const sshPort = management.sshPort ?? 22;
  if (!Number.isInteger(sshPort) || sshPort < 1 || sshPort > 65535) {
    throw new FirewallContextError(`management.sshPort must be 1–65535, got ${sshPort}`);
  }
  const managementRanges = [guestCidr, ...(sources.kind === 'list' ? sources.ranges : [])];
  for (const network of spec.networks) {
    const range = parseCidr(network.cidr)!;
    const clash = managementRanges.find((candidate) => overlaps(candidate, range));
    if (clash) {
      throw new FirewallContextError(
        `lab network ${network.name} (${network.cidr}) overlaps the management network ${formatIpv4(clash.base)}/${clash.prefix}`,
      );
    }
  }
  const managementAddresses = context.managementAddresses ?? {};
  for (const [vm, address] of Object.entries(managementAddresses)) {
    cidrOrAddress(address, `managementAddresses.${vm}`);
  }
  if (context.tag !== undefined && !/^[\w.:/-]{1,64}$/.test(context.tag)) {
    throw new FirewallContextError('tag must be 1–64 letters, digits and . : / _ -');
  }
  return {
    sources,
    guestCidr,
    sshPort,
    managementAddresses,
    commentPrefix: context.tag === undefined ? 'gd' : `gd:${context.tag}`,
  };
}
