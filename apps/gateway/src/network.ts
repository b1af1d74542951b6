/**
 * Lab networks. Each network of each lab copy is its own layer-2 segment: a leased VLAN tag (picked at
 * random from NETWORK_VLAN_RANGE), carried either by an SDN VNet of the zone Glassdome owns
 * (NETWORK_MODE=sdn, the default) or directly on the VLAN-aware bridge (NETWORK_MODE=vlan). SDN
 * objects are cluster-wide network plumbing, so the gateway writes them as root over SSH (`pvesh`),
 * and grants the deploy token (and its user) only SDN.Use on its zone, which VM NICs need. Copies may reuse CIDRs:
 * nothing routes between segments, and no SDN subnet is declared (Glassdome assigns every address).
 */
import {
  ALL_PROJECTS,
  deleteNetworkLeaseOfOwner,
  deleteNetworkRow,
  findNetworkLeaseTagOfOwner,
  getNetwork,
  type JsonValue,
  listNetworkLeases,
  networkLeaseOwner,
  PostgresVlanLeaseStore,
  setNetworkFailed,
  setNetworkReady,
} from '@glassdome/db';
import { markLabDestroyed, runLabTask } from '@glassdome/lab-run';
import { parseVlanRange, VlanAllocator, vnetIdOfTag } from '@glassdome/proxmox';
import { isFinalAttempt, type JobContext, PermanentError } from '@glassdome/queue';
import { DEFAULT_PLATFORM } from '@glassdome/runtime';
import type { GatewayContext } from './context';
import { ensureDatacenterFirewall } from './datacenter-firewall';
import { NodeCommandError, onNode, onNodeTolerating } from './node-shell';

/** What a network task records: where the lab VMs' NICs go. */
export interface LabNetworkDetail {
  /** The bridge a NIC names: the VNet (sdn) or the uplink bridge (vlan). */
  bridge: string;
  /** The NIC's own tag: only in vlan mode (a VNet carries its tag itself). */
  tag?: number;
  vnet?: string;
  zone?: string;
}

function detail(value: LabNetworkDetail): JsonValue {
  return { ...value };
}

function allocator(ctx: GatewayContext): VlanAllocator {
  return new VlanAllocator({
    leases: new PostgresVlanLeaseStore(ctx.db),
    range: parseVlanRange(ctx.env.NETWORK_VLAN_RANGE),
  });
}

let zoneReady: Promise<void> | undefined;

/** Glassdome's VLAN zone exists on the uplink bridge, and the deploy token may attach NICs to its VNets. */
function ensureZone(ctx: GatewayContext): Promise<void> {
  zoneReady ??= (async () => {
    const zone = ctx.env.SDN_ZONE;
    await onNodeTolerating(
      ctx,
      ['pvesh', 'create', '/cluster/sdn/zones', '--zone', zone, '--type', 'vlan', '--bridge', ctx.env.PROXMOX_BRIDGE],
      /already defined|already exists/,
    );
    await onNode(ctx, [
      'pveum',
      'acl',
      'modify',
      `/sdn/zones/${zone}`,
      '--roles',
      'PVESDNUser',
      // A privilege-separated token holds only what both it and its user hold, so both get the role.
      '--users',
      ctx.env.PROXMOX_TOKEN_ID.split('!')[0]!,
      '--tokens',
      ctx.env.PROXMOX_TOKEN_ID,
    ]);
  })().catch((error: unknown) => {
    zoneReady = undefined;
    throw error;
  });
  return zoneReady;
}

/** Applies pending SDN changes (`PUT /cluster/sdn`, which reloads the network on every node). */
async function applySdn(ctx: GatewayContext): Promise<void> {
  await onNode(ctx, ['pvesh', 'set', '/cluster/sdn']);
}

/** The uplink bridge, which must exist and be VLAN-aware: every Glassdome network is a tag on it. */
async function requireVlanAwareBridge(ctx: GatewayContext): Promise<string> {
  const bridge = ctx.env.PROXMOX_BRIDGE;
  const bridges = await ctx.pve.cluster.networks(ctx.env.PROXMOX_NODE, 'bridge');
  const found = bridges.find((nic) => nic.iface === bridge);
  if (!found) throw new PermanentError(`bridge ${bridge} does not exist on ${ctx.env.PROXMOX_NODE}`);
  if (!found.vlanAware) throw new PermanentError(`bridge ${bridge} is not VLAN-aware: lab networks need tags`);
  return bridge;
}

/**
 * In sdn mode, the zone and the token's grant on it come before any lease: the overseer takes a lease
 * whose VNets it cannot audit as a missing grant (network-unreadable).
 */
async function ensureZoneForLeases(ctx: GatewayContext): Promise<void> {
  if (ctx.env.NETWORK_MODE === 'sdn') await ensureZone(ctx);
}

/** The tag's VNet in Glassdome's zone (made if missing, with the change applied). */
async function makeVnet(ctx: GatewayContext, tag: number, alias: string): Promise<string> {
  await ensureZone(ctx);
  const vnet = vnetIdOfTag(tag);
  await onNodeTolerating(
    ctx,
    [
      'pvesh',
      'create',
      '/cluster/sdn/vnets',
      '--vnet',
      vnet,
      '--zone',
      ctx.env.SDN_ZONE,
      '--tag',
      String(tag),
      '--alias',
      alias,
    ],
    /already defined|already exists/,
  );
  await applySdn(ctx);
  return vnet;
}

/** Deletes the VNets of these tags (gone ones are fine) and applies the change. */
async function deleteVnets(ctx: GatewayContext, tags: number[]): Promise<void> {
  for (const tag of tags) {
    await onNodeTolerating(
      ctx,
      ['pvesh', 'delete', `/cluster/sdn/vnets/${vnetIdOfTag(tag)}`],
      /does not exist|not found|no such/i,
    );
  }
  await applySdn(ctx);
}

/** `network.create`: one network of one lab copy. */
export function createLabNetwork(ctx: GatewayContext, labId: string, taskId: string, context: JobContext) {
  return runLabTask(ctx, { labId, taskId, context }, async ({ task }) => {
    const bridge = await requireVlanAwareBridge(ctx);
    await ensureDatacenterFirewall(ctx);
    await ensureZoneForLeases(ctx);
    const tag = await allocator(ctx).allocateVlan({
      platformId: DEFAULT_PLATFORM,
      owner: `${labId}:${taskId}`,
      labId,
      network: task.networkName!,
    });
    if (ctx.env.NETWORK_MODE === 'vlan') return detail({ bridge, tag });
    const vnet = await makeVnet(ctx, tag, `glassdome lab ${labId.slice(0, 8)} ${task.networkName} c${task.copy}`);
    return detail({ bridge: vnet, vnet, zone: ctx.env.SDN_ZONE, tag });
  });
}

/**
 * `network.release`: after the installer removed a lab's VMs, its VNets are deleted (and the change
 * applied), its tags released, and the lab marked destroyed. Idempotent.
 */
export async function releaseLabNetworks(ctx: GatewayContext, labId: string) {
  const leases = await listNetworkLeases(ctx.db, { labId });
  if (ctx.env.NETWORK_MODE === 'sdn' && leases.length > 0) {
    await deleteVnets(
      ctx,
      leases.map((lease) => lease.tag),
    );
  }
  await allocator(ctx).releaseLab(labId);
  await markLabDestroyed(ctx.db, labId, `VMs removed, ${leases.length} network(s) released`);
  return { labId, released: leases.length };
}

/**
 * `network.delete-vnet`: the overseer found a VNet in Glassdome's zone that no lease holds (a tear-down
 * that left it behind, or one made by hand). Checked again here, since the job's payload is only a
 * name: the VNet must still exist, be in SDN_ZONE and have no lease; then it is deleted and applied.
 */
export async function deleteUnleasedVnet(ctx: GatewayContext, vnet: string) {
  if (ctx.env.NETWORK_MODE !== 'sdn') throw new PermanentError('NETWORK_MODE is not sdn: Glassdome makes no VNets');
  const read = await ctx.ssh.exec(ctx.node, ['pvesh', 'get', `/cluster/sdn/vnets/${vnet}`, '--output-format', 'json'], {
    timeoutMs: 60_000,
    allowFailure: true,
  });
  if (read.exitCode !== 0) {
    if (/does not exist|not found|no such/i.test(read.stderr + read.stdout)) return { vnet, deleted: false };
    throw new NodeCommandError(['pvesh', 'get', `/cluster/sdn/vnets/${vnet}`], read.exitCode, read.stderr);
  }
  const { zone } = JSON.parse(read.stdout) as { zone?: string };
  if (zone !== ctx.env.SDN_ZONE) throw new PermanentError(`VNet ${vnet} is in zone ${zone}, not Glassdome's`);
  const leases = await listNetworkLeases(ctx.db);
  if (leases.some((lease) => lease.platformId === DEFAULT_PLATFORM && vnetIdOfTag(lease.tag) === vnet)) {
    throw new PermanentError(`VNet ${vnet} is leased again`);
  }
  await onNodeTolerating(ctx, ['pvesh', 'delete', `/cluster/sdn/vnets/${vnet}`], /does not exist|not found|no such/i);
  await applySdn(ctx);
  ctx.logger.warn({ vnet, zone }, 'deleted a VNet no lease held');
  return { vnet, deleted: true };
}

/**
 * `network.named-create`: a network an admin gave a project (`POST /networks`): a leased tag (owner
 * `network:<id>`) made into a VNet of Glassdome's zone, as a lab network is; the row becomes `ready`
 * with what its VMs' NICs name. A network that cannot be made (a refusal, or the last attempt) is
 * `failed` with the reason.
 */
export async function createNamedNetwork(ctx: GatewayContext, networkId: string, context: JobContext) {
  const network = await getNetwork(ctx.db, networkId, ALL_PROJECTS);
  if (network?.status !== 'creating') return { networkId, status: network?.status ?? 'gone' };
  try {
    const bridge = await requireVlanAwareBridge(ctx);
    await ensureZoneForLeases(ctx);
    const tag = await allocator(ctx).allocateVlan({
      platformId: network.platformId,
      owner: networkLeaseOwner(network.id),
      labId: null,
      network: network.name,
    });
    const placed =
      ctx.env.NETWORK_MODE === 'vlan'
        ? { bridge, tag }
        : { bridge: await makeVnet(ctx, tag, `glassdome ${network.project} ${network.name}`), tag: null };
    await setNetworkReady(ctx.db, network.id, placed);
    return { networkId, status: 'ready', bridge: placed.bridge };
  } catch (error) {
    if (isFinalAttempt(error, context.job)) {
      await setNetworkFailed(ctx.db, network.id, error instanceof Error ? error.message : String(error));
    }
    throw error;
  }
}

/**
 * `network.named-delete`: the API checked that no VM is on the network and marked it `deleting`; its
 * VNet is deleted and applied, its tag released and its row removed. A network whose row is already
 * gone only has what it left behind released (the overseer's repair of such a lease). Idempotent.
 */
export async function deleteNamedNetwork(ctx: GatewayContext, networkId: string, context: JobContext) {
  const network = await getNetwork(ctx.db, networkId, ALL_PROJECTS);
  if (network && network.status !== 'deleting') {
    throw new PermanentError(`network ${network.name} is ${network.status}, not deleting`);
  }
  try {
    const owner = { platformId: network?.platformId ?? DEFAULT_PLATFORM, owner: networkLeaseOwner(networkId) };
    const tag = await findNetworkLeaseTagOfOwner(ctx.db, owner);
    if (tag !== undefined && ctx.env.NETWORK_MODE === 'sdn') await deleteVnets(ctx, [tag]);
    await deleteNetworkLeaseOfOwner(ctx.db, owner);
    if (network) await deleteNetworkRow(ctx.db, network.id);
    return { networkId, deleted: network !== undefined, tag: tag ?? null };
  } catch (error) {
    // The last attempt leaves the network failed with the reason (never deleting forever); an admin
    // may DELETE it again once Proxmox answers.
    if (network && isFinalAttempt(error, context.job)) {
      const reason = error instanceof Error ? error.message : String(error);
      await setNetworkFailed(ctx.db, network.id, `delete failed: ${reason}`, 'deleting');
    }
    throw error;
  }
}
