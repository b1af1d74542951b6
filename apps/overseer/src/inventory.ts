/**
 * What a platform looks like right now, built from one `GET /cluster/resources` answer. The proxmox
 * package's `cluster.resources()` drops the fields an inventory needs (tags, uptime, storage usage),
 * so the raw rows are read here.
 */

export interface ObservedVm {
  vmid: number;
  node: string;
  name: string;
  /** `running`, `stopped`, or `unknown` (node offline, or stats not yet collected). */
  status: string;
  template: boolean;
  tags: string[];
  uptimeSeconds: number;
  lock: string | undefined;
}

export interface ObservedNode {
  node: string;
  online: boolean;
}

export interface ObservedStorage {
  node: string;
  storage: string;
  usedBytes: number;
  totalBytes: number;
}

export interface Inventory {
  vms: Map<number, ObservedVm>;
  nodes: ObservedNode[];
  storages: ObservedStorage[];
}

type RawRow = Record<string, unknown>;

const text = (value: unknown): string | undefined =>
  value === undefined || value === null ? undefined : String(value);
const number = (value: unknown): number => {
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : 0;
};

function vmOf(row: RawRow): ObservedVm {
  const tags = text(row.tags);
  return {
    vmid: number(row.vmid),
    node: text(row.node) ?? '',
    name: text(row.name) ?? `VM ${row.vmid}`,
    status: text(row.status) ?? 'unknown',
    template: row.template === 1 || row.template === '1' || row.template === true,
    tags: tags ? tags.split(/[;,\s]+/).filter(Boolean) : [],
    uptimeSeconds: number(row.uptime),
    lock: text(row.lock),
  };
}

/** Sorts `/cluster/resources` rows into VMs (qemu only), nodes and storages. */
export function inventoryFromResources(rows: RawRow[]): Inventory {
  const inventory: Inventory = { vms: new Map(), nodes: [], storages: [] };
  for (const row of rows) {
    if (row.type === 'qemu') {
      const vm = vmOf(row);
      inventory.vms.set(vm.vmid, vm);
    } else if (row.type === 'node') {
      inventory.nodes.push({ node: text(row.node) ?? '', online: row.status === 'online' });
    } else if (row.type === 'storage') {
      inventory.storages.push({
        node: text(row.node) ?? '',
        storage: text(row.storage) ?? '',
        usedBytes: number(row.disk),
        totalBytes: number(row.maxdisk),
      });
    }
  }
  return inventory;
}
