import type { ProxmoxClient } from './client';
import { encodeSshKeys, type Params } from './encoding';
import { toBoolean, toNumber, toOptionalString } from './normalize';
import {
  toVmConfig,
  toVmStatus,
  toVmSummary,
  type VmConfig,
  type VmConfigUpdate,
  type VmStatus,
  type VmSummary,
} from './vm-types';

export interface CloneRequest {
  /** Template or VM to copy. */
  sourceVmid: number;
  newid: number;
  /** A DNS name (letters, digits, hyphens; no underscores). */
  name?: string;
  /**
   * Full copy instead of a linked clone.
   * @defaultValue PVE's: linked for templates, full for VMs
   */
  full?: boolean;
  /** Target storage (full clones only). */
  storage?: string;
  pool?: string;
  description?: string;
  /** Target node (needs shared storage). */
  target?: string;
}

export interface Snapshot {
  name: string;
  description: string;
  parent: string | undefined;
  /** Seconds since the epoch; undefined for `current`. */
  snaptime: number | undefined;
  withRam: boolean;
}

export type PowerAction = 'start' | 'stop' | 'shutdown' | 'reboot' | 'reset';

/**
 * `/nodes/{node}/qemu/…`. Calls that PVE runs as tasks return the UPID: pass it to `tasks.wait()`.
 * `node` defaults to the client's node.
 */
export class VmApi {
  constructor(private readonly client: ProxmoxClient) {}

  #base(vmid: number, node?: string): string {
    return `/nodes/${node ?? this.client.node}/qemu/${vmid}`;
  }

  async list(node = this.client.node): Promise<VmSummary[]> {
    const rows = await this.client.get<Record<string, unknown>[]>(`/nodes/${node}/qemu`);
    return rows.map((row) => toVmSummary(row, node));
  }

  async status(vmid: number, node?: string): Promise<VmStatus> {
    return toVmStatus(await this.client.get(`${this.#base(vmid, node)}/status/current`));
  }

  async config(vmid: number, node?: string): Promise<VmConfig> {
    return toVmConfig(await this.client.get(`${this.#base(vmid, node)}/config`));
  }

  /** Synchronous config write (PUT). A `digest` guards against concurrent edits. */
  async updateConfig(vmid: number, changes: VmConfigUpdate, node?: string): Promise<void> {
    await this.client.put(`${this.#base(vmid, node)}/config`, configParams(changes));
  }

  /** `POST /nodes/{node}/qemu`: `params` are any VM config keys plus `storage`, `pool`, `start`. */
  create(vmid: number, params: VmConfigUpdate, node = this.client.node): Promise<string> {
    return this.client.post(`/nodes/${node}/qemu`, { vmid, ...configParams(params) });
  }

  clone(request: CloneRequest, node?: string): Promise<string> {
    return this.client.post(`${this.#base(request.sourceVmid, node)}/clone`, {
      newid: request.newid,
      name: request.name,
      full: request.full,
      storage: request.storage,
      pool: request.pool,
      description: request.description,
      target: request.target,
    });
  }

  power(vmid: number, action: PowerAction, params: Params = {}, node?: string): Promise<string> {
    return this.client.post(`${this.#base(vmid, node)}/status/${action}`, params);
  }

  start(vmid: number, node?: string): Promise<string> {
    return this.power(vmid, 'start', {}, node);
  }

  stop(vmid: number, node?: string): Promise<string> {
    return this.power(vmid, 'stop', {}, node);
  }

  /** ACPI or guest-agent shutdown, forced off after `timeoutSeconds` when `forceStop`. */
  shutdown(vmid: number, options: { timeoutSeconds?: number; forceStop?: boolean } = {}, node?: string) {
    return this.power(vmid, 'shutdown', { timeout: options.timeoutSeconds, forceStop: options.forceStop }, node);
  }

  reboot(vmid: number, node?: string): Promise<string> {
    return this.power(vmid, 'reboot', {}, node);
  }

  template(vmid: number, node?: string): Promise<string> {
    return this.client.post(`${this.#base(vmid, node)}/template`);
  }

  /** Destroys the VM and its disks; `purge` also drops it from backup, replication and HA configs. */
  destroy(vmid: number, options: { purge?: boolean } = {}, node?: string): Promise<string> {
    return this.client.delete(`${this.#base(vmid, node)}`, {
      purge: options.purge ?? true,
      'destroy-unreferenced-disks': true,
    });
  }

  /** Grows a disk (`size` like `+8G` or `32G`); a task in PVE 8. */
  resize(vmid: number, disk: string, size: string, node?: string): Promise<string> {
    return this.client.put(`${this.#base(vmid, node)}/resize`, { disk, size });
  }

  async snapshots(vmid: number, node?: string): Promise<Snapshot[]> {
    const rows = await this.client.get<Record<string, unknown>[]>(`${this.#base(vmid, node)}/snapshot`);
    return rows
      .filter((row) => row.name !== 'current')
      .map((row) => ({
        name: String(row.name),
        description: String(row.description ?? ''),
        parent: toOptionalString(row.parent),
        snaptime: row.snaptime === undefined ? undefined : toNumber(row.snaptime),
        withRam: toBoolean(row.vmstate),
      }));
  }

  snapshot(vmid: number, name: string, options: { description?: string; withRam?: boolean } = {}, node?: string) {
    return this.client.post<string>(`${this.#base(vmid, node)}/snapshot`, {
      snapname: name,
      description: options.description,
      vmstate: options.withRam,
    });
  }

  /**
   * Rolls the VM back to a snapshot (a `qmrollback` task). A snapshot with RAM resumes the VM running;
   * one without leaves it stopped unless `start` is set.
   */
  rollback(vmid: number, name: string, options: { start?: boolean } = {}, node?: string): Promise<string> {
    return this.client.post(`${this.#base(vmid, node)}/snapshot/${encodeURIComponent(name)}/rollback`, {
      start: options.start,
    });
  }

  deleteSnapshot(vmid: number, name: string, node?: string): Promise<string> {
    return this.client.delete(`${this.#base(vmid, node)}/snapshot/${encodeURIComponent(name)}`);
  }
}

/** Turns a typed update into PVE parameters: ssh keys encoded, tags `;`-joined, deletions listed. */
export function configParams(update: VmConfigUpdate): Params {
  const { sshKeys, tags, delete: remove, ...rest } = update;
  const params: Params = { ...rest };
  if (sshKeys) params.sshkeys = encodeSshKeys(sshKeys);
  if (tags) params.tags = tags.join(';');
  if (remove && remove.length > 0) params.delete = remove.join(',');
  return params;
}
