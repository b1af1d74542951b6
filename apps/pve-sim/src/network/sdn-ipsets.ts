/**
 * The IPSets PVE 8 derives from the applied SDN configuration (scope `sdn`, used in rules as
 * `+sdn/<vnet>-all` and so on): for every VNet `<vnet>-all` (its subnets), `<vnet>-gateway`
 * (their gateways), `<vnet>-no-gateway` (the subnets, gateways excluded with `nomatch`) and
 * `<vnet>-dhcp` (their DHCP ranges). A VNet without subnets gets the four sets, empty.
 */
import type { ClusterState, FirewallIpset, FirewallIpsetEntry, SdnSubnet } from '../state/types';

/** The applied subnets of a VNet with their CIDR (subnet ids look like `<zone>-10.0.0.0-24`). */
function subnetsOf(state: ClusterState, vnet: string): Array<SdnSubnet & { cidr: string }> {
  return Object.entries(state.sdn.subnets ?? {})
    .filter(([, subnet]) => subnet.vnet === vnet)
    .flatMap(([id, subnet]) => {
      const parts = id.split('-');
      return parts.length >= 3 ? [{ ...subnet, cidr: `${parts.at(-2)}/${parts.at(-1)}` }] : [];
    });
}

/** `dhcp-range` entries (`start-address=a,end-address=b`) as IPSet ranges. */
function dhcpEntries(subnet: SdnSubnet): FirewallIpsetEntry[] {
  return (subnet['dhcp-range'] ?? []).flatMap((range) => {
    const start = /start-address=([^,]+)/.exec(range)?.[1];
    const end = /end-address=([^,]+)/.exec(range)?.[1];
    return start && end ? [{ cidr: `${start}-${end}` }] : [];
  });
}

/**
 * The SDN IPSets of every applied VNet (or only those `visible` lets through, as the API shows a
 * caller only the VNets it may audit), keyed by name without the `sdn/` scope.
 */
export function sdnIpsets(state: ClusterState, visible: (zone: string, vnet: string) => boolean = () => true) {
  const sets: Record<string, FirewallIpset> = {};
  for (const vnet of Object.values(state.sdn.vnets)) {
    if (!visible(vnet.zone, vnet.vnet)) continue;
    const all: FirewallIpsetEntry[] = [];
    const gateways: FirewallIpsetEntry[] = [];
    const noGateway: FirewallIpsetEntry[] = [];
    const dhcp: FirewallIpsetEntry[] = [];
    for (const subnet of subnetsOf(state, vnet.vnet)) {
      all.push({ cidr: subnet.cidr });
      noGateway.push({ cidr: subnet.cidr });
      if (subnet.gateway) {
        noGateway.push({ cidr: subnet.gateway, nomatch: 1 });
        gateways.push({ cidr: subnet.gateway });
      }
      dhcp.push(...dhcpEntries(subnet));
    }
    sets[`${vnet.vnet}-all`] = { comment: `All subnets of VNet ${vnet.vnet}`, entries: all };
    sets[`${vnet.vnet}-gateway`] = { comment: `All gateways of VNet ${vnet.vnet}`, entries: gateways };
    sets[`${vnet.vnet}-no-gateway`] = {
      comment: `All subnets of VNet ${vnet.vnet}, excluding gateways`,
      entries: noGateway,
    };
    sets[`${vnet.vnet}-dhcp`] = { comment: `DHCP ranges of VNet ${vnet.vnet}`, entries: dhcp };
  }
  return sets;
}
