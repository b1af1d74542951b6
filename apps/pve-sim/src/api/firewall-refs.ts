/**
 * What a rule may refer to (IPSets and aliases of the cluster, of the VM, and SDN's derived
 * IPSets the caller may audit), and the `refs` endpoints listing those references.
 */
import { firewallState, type RuleEnv, type RuleRefs, vmFirewall } from '../network/firewall-config';
import { sdnIpsets } from '../network/sdn-ipsets';
import { hasAnyPrivilege } from '../permissions';
import type { HandlerContext } from '../router';
import type { FirewallIpset, FirewallScope } from '../state/types';

/** SDN IPSets of the VNets the caller holds SDN.Audit or SDN.Allocate on. */
export function visibleSdnIpsets(ctx: HandlerContext): Record<string, FirewallIpset> {
  return sdnIpsets(ctx.sim.state, (zone, vnet) =>
    hasAnyPrivilege(ctx.sim.state, ctx.who, `/sdn/zones/${zone}/${vnet}`, ['SDN.Audit', 'SDN.Allocate']),
  );
}

export function refsFor(ctx: HandlerContext, env: RuleEnv): RuleRefs {
  const cluster = firewallState(ctx.sim.state).cluster;
  const refs: RuleRefs = { cluster, sdnIpsets: visibleSdnIpsets(ctx) };
  if (env === 'vm') refs.local = vmFirewall(ctx.sim.state, ctx.params.vmid!);
  return refs;
}

interface Reference {
  type: 'ipset' | 'alias';
  name: string;
  ref: string;
  scope: string;
  comment?: string;
}

function collect(
  scope: string,
  ipsets: Record<string, FirewallIpset>,
  aliases: FirewallScope['aliases'],
  type?: string,
): Reference[] {
  const out: Reference[] = [];
  if (!type || type === 'ipset') {
    for (const [name, set] of Object.entries(ipsets)) {
      const entry: Reference = { type: 'ipset', name, ref: `+${name}`, scope };
      if (set.comment) entry.comment = set.comment;
      out.push(entry);
    }
  }
  if (!type || type === 'alias') {
    for (const [name, alias] of Object.entries(aliases)) {
      const entry: Reference = { type: 'alias', name, ref: name, scope };
      if (alias.comment) entry.comment = alias.comment;
      out.push(entry);
    }
  }
  return out;
}

/** `GET /cluster/firewall/refs`: SDN's references first, then the cluster's. */
export function clusterRefs(ctx: HandlerContext): Reference[] {
  const cluster = firewallState(ctx.sim.state).cluster;
  return [
    ...collect('sdn', visibleSdnIpsets(ctx), {}, ctx.params.type),
    ...collect('dc', cluster.ipsets, cluster.aliases, ctx.params.type),
  ];
}

/** `GET /nodes/{node}/qemu/{vmid}/firewall/refs`: the cluster's, SDN's, then the guest's own. */
export function vmRefs(ctx: HandlerContext): Reference[] {
  const cluster = firewallState(ctx.sim.state).cluster;
  const local = vmFirewall(ctx.sim.state, ctx.params.vmid!);
  return [
    ...collect('dc', cluster.ipsets, cluster.aliases, ctx.params.type),
    ...collect('sdn', visibleSdnIpsets(ctx), {}, ctx.params.type),
    ...collect('guest', local.ipsets, local.aliases, ctx.params.type),
  ];
}
