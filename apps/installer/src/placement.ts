/**
 * Which node each copy of a lab is cloned on, decided once per lab by the first of its VM tasks to
 * need it (under the lab's row lock, so concurrent tasks agree) and recorded on the VMs' rows and as
 * the lab's `placement` step. `placeCopies` (@glassdome/lab) decides from what the cluster says now:
 * each node's free memory and free space on PROXMOX_STORAGE, the VMs running on it, the templates on it.
 *
 * Templates are matched by name: a linked clone is made on the node whose storage holds its
 * template's base disk, so a cluster on local storage keeps a copy of each template on every node
 * (under the same name, with its own VMID). A VM whose template cannot be named here (one the gateway
 * is still to build) keeps the lab on the configured node.
 */
import {
  getStepDetail,
  type JsonValue,
  labCopyDemands,
  lockLabForPlacement,
  recordLabStepDone,
  setLabCopyNode,
} from '@glassdome/db';
import { type CopyDemand, type NodeCapacity, parseStoredVmSpec, placeCopies, type StoredVmSpec } from '@glassdome/lab';
import type { ClusterResource } from '@glassdome/proxmox';
import { PermanentError } from '@glassdome/queue';
import type { InstallerContext } from './context';
import { templateFromEnv } from './vm-spec';

/** The lab step that records the placement. */
export const PLACEMENT_STEP = 'placement';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** A lab's placement as recorded: each copy's node, and per node the VMID of each template it clones there. */
export interface LabPlacement {
  copies: Record<string, string>;
  templates: Record<string, Record<string, number>>;
}

const placed = new Map<string, LabPlacement | null>();

/** The template a VM clones, as a VMID or a name, before any node is chosen. */
function templateSource(spec: StoredVmSpec, templateVmids: string): number | string | undefined {
  if (typeof spec.template === 'string') return spec.template;
  return templateFromEnv(spec, templateVmids);
}

/** The cluster as placement sees it: nodes with their capacity, and templates by name per node. */
async function readCluster(ctx: InstallerContext) {
  const [nodes, vms] = await Promise.all([ctx.pve.cluster.nodes(), ctx.pve.cluster.resources('vm')]);
  // Free space of the storage clones go to, per node (a node whose storage we may not read has none).
  const freeStorage = new Map<string, number>();
  await Promise.all(
    nodes
      .filter((node) => node.online && node.maxmemBytes > 0)
      .map(async (node) => {
        const storages = await ctx.pve.cluster.storages(node.node).catch(() => []);
        const storage = storages.find((s) => s.storage === ctx.env.PROXMOX_STORAGE && s.active);
        freeStorage.set(node.node, (storage?.availBytes ?? 0) / GiB);
      }),
  );
  const templates = new Map<string, Map<string, number>>();
  const busy = new Map<string, number>();
  for (const vm of vms as ClusterResource[]) {
    if (!vm.node) continue;
    if (vm.template) {
      if (vm.name && vm.vmid) templates.set(vm.node, (templates.get(vm.node) ?? new Map()).set(vm.name, vm.vmid));
    } else if (vm.status === 'running' || vm.lock === 'clone') {
      busy.set(vm.node, (busy.get(vm.node) ?? 0) + 1);
    }
  }
  const byVmid = new Map<number, { node: string; name: string }>();
  for (const [node, named] of templates) for (const [name, vmid] of named) byVmid.set(vmid, { node, name });
  return { nodes, templates, busy, byVmid, freeStorage };
}

/**
 * Places the lab's copies unless they are placed already; returns the placement (null: the lab stays
 * on the node its rows name).
 */
export async function ensureLabPlaced(ctx: InstallerContext, labId: string): Promise<LabPlacement | null> {
  const known = placed.get(labId);
  if (known !== undefined) return known;
  // A lab's provision tasks start together: the first reads the cluster and places the lab, the
  // others in this process wait for that instead of each reading the nodes, VMs and storages again.
  let pending = placing.get(labId);
  if (!pending) {
    pending = placeLab(ctx, labId).finally(() => placing.delete(labId));
    placing.set(labId, pending);
  }
  return pending;
}

/** Placements being decided in this process, by lab. */
const placing = new Map<string, Promise<LabPlacement | null>>();

async function placeLab(ctx: InstallerContext, labId: string): Promise<LabPlacement | null> {
  // The three reads at once: the provision tasks of the lab wait for the placement. A lab already
  // placed leaves the cluster's read unused (once per process and lab).
  const reading = readCluster(ctx);
  reading.catch(() => undefined);
  const [recorded, rows] = await Promise.all([
    getStepDetail(ctx.db, { labId }, PLACEMENT_STEP),
    labCopyDemands(ctx.db, labId),
  ]);
  if (recorded !== undefined) return remember(labId, recorded);
  const cluster = await reading;
  return ctx.db.transaction().execute(async (trx) => {
    if (!(await lockLabForPlacement(trx, labId))) return null;
    const again = await getStepDetail(trx, { labId }, PLACEMENT_STEP);
    if (again !== undefined) return remember(labId, again);
    // Decided only once the lock shows no other process placed the lab meanwhile: that process's
    // clones may already fill the nodes the read above saw, and its placement wins.
    const decided = decide(ctx, rows, cluster);
    if (decided.placement) {
      for (const [copy, node] of Object.entries(decided.placement.copies)) {
        await setLabCopyNode(trx, labId, Number(copy), node);
      }
    }
    const detail = (decided.placement ?? { kept: decided.kept }) as unknown as JsonValue;
    await recordLabStepDone(trx, labId, PLACEMENT_STEP, detail);
    return remember(labId, detail);
  });
}

function remember(labId: string, detail: JsonValue | undefined): LabPlacement | null {
  const placement =
    detail && typeof detail === 'object' && 'copies' in detail ? (detail as unknown as LabPlacement) : null;
  if (placed.size >= 500) placed.delete(placed.keys().next().value!);
  placed.set(labId, placement);
  return placement;
}

type DemandRow = Awaited<ReturnType<typeof labCopyDemands>>[number];

/** The placement of the lab's copies, or why it keeps the node its rows name. */
function decide(
  ctx: InstallerContext,
  rows: DemandRow[],
  cluster: Awaited<ReturnType<typeof readCluster>>,
): { placement?: LabPlacement; kept?: string } {
  if (cluster.nodes.filter((node) => node.online).length < 2) return { kept: 'one node' };
  // A lab with a VM already cloned (a retry, a re-clone) stays where it is.
  if (rows.some((row) => row.vmid !== null)) return { kept: 'already cloned' };
  const demands = new Map<number, CopyDemand>();
  const sources = new Set<number | string>();
  for (const row of rows) {
    const spec = parseStoredVmSpec(row.spec);
    const source = templateSource(spec, ctx.env.TEMPLATE_VMIDS);
    const name = typeof source === 'number' ? cluster.byVmid.get(source)?.name : source;
    if (!name || source === undefined) return { kept: 'a template not on the cluster yet' };
    sources.add(source);
    const copy = row.copy ?? 0;
    const demand = demands.get(copy) ?? { copy, memoryMiB: 0, diskGiB: 0, vms: 0, templates: [] };
    demand.memoryMiB += spec.memoryMiB;
    // A linked clone grows toward its size; counting all of it keeps the storage from filling up.
    demand.diskGiB += spec.diskGiB;
    demand.vms += 1;
    if (!demand.templates.includes(name)) (demand.templates as string[]).push(name);
    demands.set(copy, demand);
  }
  const capacities: NodeCapacity[] = cluster.nodes.map((node) => ({
    node: node.node,
    // A node that shows no memory is one the token may not audit: not a place for our VMs.
    online: node.online && node.maxmemBytes > 0,
    freeMemoryMiB: Math.max(0, node.maxmemBytes - node.memBytes) / MiB,
    freeStorageGiB: cluster.freeStorage.get(node.node) ?? 0,
    runningClones: cluster.busy.get(node.node) ?? 0,
    templates: new Set(cluster.templates.get(node.node)?.keys() ?? []),
  }));
  const result = placeCopies(capacities, [...demands.values()]);
  if (!result.ok) throw new PermanentError(`no node can take this lab: ${result.reason}`);
  const copies: Record<string, string> = {};
  const templates: Record<string, Record<string, number>> = {};
  for (const [copy, node] of result.nodeOfCopy) {
    copies[String(copy)] = node;
    const onNode = cluster.templates.get(node)!;
    templates[node] ??= {};
    const mapping = templates[node];
    for (const source of sources) {
      const name = typeof source === 'number' ? cluster.byVmid.get(source)!.name : source;
      const vmid = onNode.get(name);
      if (vmid !== undefined) mapping[String(source)] = vmid;
    }
  }
  return { placement: { copies, templates } };
}

/**
 * The VM's spec with its template pinned to the VMID of the same template on the VM's node, when
 * the placement put it on a node other than the one its template reference resolves to.
 */
export function specOnNode(ctx: InstallerContext, placement: LabPlacement | null, node: string, spec: StoredVmSpec) {
  if (!placement) return spec;
  const source = templateSource(spec, ctx.env.TEMPLATE_VMIDS);
  const vmid = source === undefined ? undefined : placement.templates[node]?.[String(source)];
  return vmid === undefined ? spec : { ...spec, template: vmid };
}
