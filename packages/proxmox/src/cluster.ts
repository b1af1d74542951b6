import type { ProxmoxClient } from './client';
import { toBoolean, toList, toNumber, toOptionalNumber, toOptionalString } from './normalize';

export interface NodeInfo {
  node: string;
  online: boolean;
  cpu: number;
  maxcpu: number;
  memBytes: number;
  maxmemBytes: number;
  uptimeSeconds: number;
  /** SHA-256 of the node certificate (`AB:CD:…`), what `tls.fingerprint` pins. */
  sslFingerprint: string | undefined;
}

export interface StorageInfo {
  storage: string;
  type: string;
  content: string[];
  shared: boolean;
  active: boolean;
  enabled: boolean;
  totalBytes: number;
  usedBytes: number;
  availBytes: number;
}

export interface NetworkInterface {
  iface: string;
  type: string;
  active: boolean;
  cidr: string | undefined;
  bridgePorts: string | undefined;
  vlanAware: boolean;
}

export type ClusterResourceType = 'vm' | 'storage' | 'node' | 'sdn';

export interface ClusterResource {
  /** `qemu/101`, `storage/pve/local-lvm`, `node/pve`… */
  id: string;
  type: string;
  node: string | undefined;
  /** `unknown` for a few seconds after a VM appears (stats lag behind). */
  status: string | undefined;
  vmid: number | undefined;
  name: string | undefined;
  template: boolean;
  lock: string | undefined;
  pool: string | undefined;
  storage: string | undefined;
}

/** Nodes, storages, networks, cluster-wide resources and the VMID probe. */
export class ClusterApi {
  constructor(private readonly client: ProxmoxClient) {}

  async nodes(): Promise<NodeInfo[]> {
    const rows = await this.client.get<Record<string, unknown>[]>('/nodes');
    return rows.map((row) => ({
      node: String(row.node),
      online: row.status === 'online',
      cpu: toNumber(row.cpu),
      maxcpu: toNumber(row.maxcpu),
      memBytes: toNumber(row.mem),
      maxmemBytes: toNumber(row.maxmem),
      uptimeSeconds: toNumber(row.uptime),
      sslFingerprint: toOptionalString(row.ssl_fingerprint),
    }));
  }

  async storages(node = this.client.node, filter: { content?: string; enabled?: boolean } = {}) {
    const rows = await this.client.get<Record<string, unknown>[]>(`/nodes/${node}/storage`, filter);
    return rows.map(
      (row): StorageInfo => ({
        storage: String(row.storage),
        type: String(row.type ?? ''),
        content: toList(row.content),
        shared: toBoolean(row.shared),
        active: toBoolean(row.active),
        enabled: row.enabled === undefined ? true : toBoolean(row.enabled),
        totalBytes: toNumber(row.total),
        usedBytes: toNumber(row.used),
        availBytes: toNumber(row.avail),
      }),
    );
  }

  async networks(node = this.client.node, type?: string): Promise<NetworkInterface[]> {
    const rows = await this.client.get<Record<string, unknown>[]>(`/nodes/${node}/network`, { type });
    return rows.map((row) => ({
      iface: String(row.iface),
      type: String(row.type ?? ''),
      active: toBoolean(row.active),
      cidr: toOptionalString(row.cidr),
      bridgePorts: toOptionalString(row.bridge_ports),
      vlanAware: toBoolean(row.bridge_vlan_aware),
    }));
  }

  async resources(type?: ClusterResourceType): Promise<ClusterResource[]> {
    const rows = await this.client.get<Record<string, unknown>[]>('/cluster/resources', { type });
    return rows.map((row) => ({
      id: String(row.id),
      type: String(row.type ?? ''),
      node: toOptionalString(row.node),
      status: toOptionalString(row.status),
      vmid: toOptionalNumber(row.vmid),
      name: toOptionalString(row.name),
      template: toBoolean(row.template),
      lock: toOptionalString(row.lock),
      pool: toOptionalString(row.pool),
      storage: toOptionalString(row.storage),
    }));
  }

  /** The lowest free VMID. Not a reservation: concurrent callers get the same answer. */
  async nextId(): Promise<number> {
    return toNumber(await this.client.get<string | number>('/cluster/nextid'));
  }
}
