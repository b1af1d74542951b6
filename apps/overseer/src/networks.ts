/**
 * Reconciling lab networks with their leases (Postgres `network_leases`, one VLAN tag each):
 * - a VNet in Glassdome's SDN zone that no lease holds is `network-orphan` (a tear-down that left it
 *   behind, or one made by hand); its repair, `delete-vnet`, has the gateway delete it and apply SDN;
 * - leases of a lab that is destroyed or gone are `network-leaked` (the lab's `network.release` never
 *   ran, or failed for good); its repair, `release-network`, runs that job again; so is the lease of
 *   a named network whose row is gone (its repair runs `network.named-delete`, which then releases it).
 * The VNets are read before the leases: the gateway leases a tag before it makes the tag's VNet, so a
 * VNet this scan sees has its lease in the read that follows, unless it was released meanwhile.
 *
 * Reading VNets needs SDN.Audit on the zone for both the token and its user (a privilege-separated
 * token holds only what both hold); without it Proxmox lists none, which would look like "no
 * orphans". So the privilege is checked first, and its absence is itself reported (`network-unreadable`)
 * once Glassdome has leased networks (the gateway makes the zone and grants it before its first lease).
 */
import { listNetworkLeaseHoldings, type NetworkLeaseHolding } from '@glassdome/db';
import { vnetIdOfTag } from '@glassdome/proxmox';
import type { OverseerContext } from './context';
import { dedupKeyOf, type Finding } from './findings';

export interface NetworkScan {
  findings: Finding[];
  apiCalls: number;
}

interface VnetItem {
  vnet: string;
  zone?: string;
  tag?: number;
}

/**
 * The VNets of the zone as the token sees them (PVE lists only VNets it may audit); undefined when it
 * may not audit the zone. The privilege is asked for (a second call) only when the list lacks a VNet
 * that a lease made before this scan says exists: the one case where a missing grant looks like
 * leaked VNets.
 */
async function readZoneVnets(
  ctx: OverseerContext,
  zone: string,
  leasedBefore: ReadonlySet<string>,
): Promise<{ vnets: VnetItem[] | undefined; apiCalls: number }> {
  const vnets = (await ctx.pve.client.get<VnetItem[]>('/cluster/sdn/vnets')).filter((vnet) => vnet.zone === zone);
  const listed = new Set(vnets.map((vnet) => vnet.vnet));
  if ([...leasedBefore].every((vnet) => listed.has(vnet))) return { vnets, apiCalls: 1 };
  const path = `/sdn/zones/${zone}`;
  const held = await ctx.pve.access.permissions({ path });
  return { vnets: (held[path] ?? []).includes('SDN.Audit') ? vnets : undefined, apiCalls: 2 };
}

/** Whether a lab lease's holder is gone: a lab that is destroyed or whose row no longer exists. */
export function leaseIsLeaked(lease: NetworkLeaseHolding): boolean {
  return lease.labId !== null && (lease.labStatus === null || lease.labStatus === 'destroyed');
}

/** The network id of a named network's lease whose row is gone (undefined for any other lease). */
export function leakedNamedNetwork(lease: NetworkLeaseHolding): string | undefined {
  return lease.networkGone ? lease.owner.slice('network:'.length) : undefined;
}

export async function scanNetworks(ctx: OverseerContext, platformId: string): Promise<NetworkScan> {
  const { mode, zone } = ctx.settings.network;
  let vnets: VnetItem[] | undefined;
  let apiCalls = 0;
  // Leases that existed before the privilege was checked: the gateway grants it before it leases, so
  // only these say the grant is missing (a lease made after the check may have come with its grant).
  let leasedBeforeCheck = 0;
  if (mode === 'sdn') {
    const before = await listNetworkLeaseHoldings(ctx.db, platformId);
    leasedBeforeCheck = before.length;
    // An SDN read that fails must not cost the whole scan; the VNets are compared next time.
    const read = await readZoneVnets(ctx, zone, new Set(before.map((lease) => vnetIdOfTag(lease.tag)))).catch(
      (error: unknown) => {
        ctx.logger.warn({ zone, err: error }, 'SDN VNets unreadable');
        return { vnets: [], apiCalls: 1 };
      },
    );
    vnets = read.vnets;
    apiCalls += read.apiCalls;
  }
  const leases = await listNetworkLeaseHoldings(ctx.db, platformId);
  const findings: Finding[] = [...leakedLeaseFindings(platformId, leases)];
  if (mode === 'sdn' && !vnets && leasedBeforeCheck > 0) {
    const subject = `zone/${zone}`;
    findings.push({
      kind: 'network-unreadable',
      severity: 'warning',
      dedupKey: dedupKeyOf(platformId, 'network-unreadable', subject),
      subject,
      message: `the API token cannot audit SDN zone ${zone}, so leaked VNets cannot be found: grant PVESDNUser on /sdn/zones/${zone} to the token and its user`,
      data: { platformId, zone },
    });
  }
  const leased = new Set(leases.map((lease) => vnetIdOfTag(lease.tag)));
  for (const vnet of vnets ?? []) {
    if (leased.has(vnet.vnet)) continue;
    const subject = `vnet/${vnet.vnet}`;
    findings.push({
      kind: 'network-orphan',
      severity: 'warning',
      dedupKey: dedupKeyOf(platformId, 'network-orphan', subject),
      subject,
      message: `SDN VNet ${vnet.vnet} (zone ${zone}, tag ${vnet.tag ?? '?'}) belongs to no lab or network: delete it, or its tag stays taken`,
      data: { platformId, vnet: vnet.vnet, zone, tag: vnet.tag ?? null },
      remediation: { action: 'delete-vnet', vnet: vnet.vnet },
    });
  }
  return { findings, apiCalls };
}

function leakedLeaseFindings(platformId: string, leases: NetworkLeaseHolding[]): Finding[] {
  const byLab = new Map<string, NetworkLeaseHolding[]>();
  for (const lease of leases.filter(leaseIsLeaked)) {
    byLab.set(lease.labId!, [...(byLab.get(lease.labId!) ?? []), lease]);
  }
  const named = leases.flatMap((lease) => {
    const networkId = leakedNamedNetwork(lease);
    if (!networkId) return [];
    const subject = `network/${networkId}`;
    return [
      {
        kind: 'network-leaked',
        severity: 'warning' as const,
        dedupKey: dedupKeyOf(platformId, 'network-leaked', subject),
        subject,
        message: `the named network ${lease.network ?? networkId} is gone but still holds tag ${lease.tag}: its removal did not finish`,
        data: { platformId, networkId, tags: [lease.tag] },
        remediation: { action: 'release-network' as const, networkId },
      },
    ];
  });
  return [
    ...named,
    ...[...byLab].map(([labId, held]) => {
      const subject = `lab/${labId}`;
      const state = held[0]!.labStatus ?? 'gone';
      return {
        kind: 'network-leaked',
        severity: 'warning' as const,
        dedupKey: dedupKeyOf(platformId, 'network-leaked', subject),
        subject,
        message: `lab ${labId} is ${state} but still holds ${held.length} network lease(s) (tags ${held.map((l) => l.tag).join(', ')}): its network release did not run`,
        data: { platformId, labId, labStatus: state, tags: held.map((lease) => lease.tag) },
        remediation: { action: 'release-network' as const, labId },
      };
    }),
  ];
}
