import { type Db, findNetworkLeaseTagOfOwner, insertNetworkLease, listLeasedNetworkTags } from '@glassdome/db';
import { runLabTask } from '@glassdome/lab-run';
import type { JobContext } from '@glassdome/queue';
import { PermanentError } from '@glassdome/queue';
import { DEFAULT_PLATFORM } from '@glassdome/runtime';
import type { GatewayContext } from './context';

/**
 * Leases the lowest free VLAN tag of the range to `owner`; the same owner gets the same tag back, so
 * a retried task keeps its network. Two labs never share a tag (primary key on platform and tag).
 */
export async function leaseVlan(db: Db, range: string, lease: { owner: string; labId: string; network: string }) {
  const [first, last] = range.split('-').map(Number) as [number, number];
  for (let attempt = 0; attempt < 20; attempt++) {
    const held = await findNetworkLeaseTagOfOwner(db, { platformId: DEFAULT_PLATFORM, owner: lease.owner });
    if (held !== undefined) return held;
    const taken = new Set(await listLeasedNetworkTags(db, DEFAULT_PLATFORM));
    let tag = first;
    while (taken.has(tag) && tag <= last) tag++;
    if (tag > last) throw new PermanentError(`no free VLAN tag in ${range}`);
    const row = { platformId: DEFAULT_PLATFORM, tag, owner: lease.owner, labId: lease.labId, network: lease.network };
    if (await insertNetworkLease(db, row)) return tag;
  }
  throw new Error('VLAN lease contention: no tag after 20 tries');
}

/** `network.create`: a lab network gets a VLAN tag of its own on the VLAN-aware bridge, checked to exist on the node. */
export function createLabNetwork(ctx: GatewayContext, labId: string, taskId: string, context: JobContext) {
  return runLabTask(ctx, { labId, taskId, context }, async ({ task }) => {
    const bridge = ctx.env.PROXMOX_BRIDGE;
    const bridges = await ctx.pve.cluster.networks(ctx.env.PROXMOX_NODE, 'bridge');
    const found = bridges.find((nic) => nic.iface === bridge);
    if (!found) throw new PermanentError(`bridge ${bridge} does not exist on ${ctx.env.PROXMOX_NODE}`);
    if (!found.vlanAware) throw new PermanentError(`bridge ${bridge} is not VLAN-aware: lab networks need tags`);
    const tag = await leaseVlan(ctx.db, ctx.env.NETWORK_VLAN_RANGE, {
      owner: `${labId}:${taskId}`,
      labId,
      network: task.networkName!,
    });
    return { bridge, tag };
  });
}
