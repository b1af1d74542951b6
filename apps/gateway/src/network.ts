import type { Db } from '@glassdome/db';
import type { JobContext } from '@glassdome/queue';
import { PermanentError } from '@glassdome/queue';
import {
  beginLabTask,
  completeLabTask,
  DEFAULT_PLATFORM,
  failLabTask,
  findTask,
  LabStoppedError,
  loadLab,
} from '@glassdome/runtime';
import type { GatewayContext } from './context';

/**
 * Leases the lowest free VLAN tag of the range to `owner`; the same owner gets the same tag back, so
 * a retried task keeps its network. Two labs never share a tag (primary key on platform and tag).
 */
export async function leaseVlan(db: Db, range: string, lease: { owner: string; labId: string; network: string }) {
  const [first, last] = range.split('-').map(Number) as [number, number];
  for (let attempt = 0; attempt < 20; attempt++) {
    const held = await db
      .selectFrom('network_leases')
      .select('tag')
      .where('platform_id', '=', DEFAULT_PLATFORM)
      .where('owner', '=', lease.owner)
      .executeTakeFirst();
    if (held) return held.tag;
    const taken = new Set(
      (await db.selectFrom('network_leases').select('tag').where('platform_id', '=', DEFAULT_PLATFORM).execute()).map(
        (r) => r.tag,
      ),
    );
    let tag = first;
    while (taken.has(tag) && tag <= last) tag++;
    if (tag > last) throw new PermanentError(`no free VLAN tag in ${range}`);
    const inserted = await db
      .insertInto('network_leases')
      .values({ platform_id: DEFAULT_PLATFORM, tag, owner: lease.owner, lab_id: lease.labId, network: lease.network })
      .onConflict((oc) => oc.doNothing())
      .returning('tag')
      .executeTakeFirst();
    if (inserted) return inserted.tag;
  }
  throw new Error('VLAN lease contention: no tag after 20 tries');
}

/** A lab network: a VLAN tag of its own on the VLAN-aware bridge, checked to exist on the node. */
export async function createLabNetwork(ctx: GatewayContext, labId: string, taskId: string, context: JobContext) {
  const lab = await loadLab(ctx.db, labId);
  if (!lab) return { skipped: 'lab gone' };
  const task = findTask(lab, taskId);
  try {
    await beginLabTask(ctx.db, lab, taskId);
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
    const added = await completeLabTask(ctx.db, ctx.producer, lab, taskId, { bridge, tag });
    return { taskId, bridge, tag, added };
  } catch (error) {
    if (error instanceof LabStoppedError) return { taskId, stopped: error.status };
    const final = error instanceof PermanentError || context.job.attemptsMade + 1 >= (context.job.opts.attempts ?? 1);
    if (final) await failLabTask(ctx.db, lab, taskId, error instanceof Error ? error.message : String(error));
    throw error;
  }
}
