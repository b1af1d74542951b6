/**
 * VMID allocation that holds under any number of workers on any number of machines. Proxmox has no
 * "reserve an id" call and `/cluster/nextid` hands the same id to concurrent callers, so the reservation
 * is a lease row in Postgres (primary key = platform + vmid), taken over only once it has expired, and
 * checked against the cluster before it is handed out.
 */
import type { Db } from '@glassdome/db';
import type { ClusterApi } from './cluster';
import { VmidExhaustedError } from './errors';

export interface VmidRange {
  /** @defaultValue 10000 */
  min: number;
  /** @defaultValue 99999 */
  max: number;
}

export interface VmidAllocatorOptions {
  db: Db;
  cluster: ClusterApi;
  /**
   * Ids Glassdome may use, away from the low ids people create by hand.
   * @defaultValue `{ min: 10000, max: 99999 }`
   */
  range?: Partial<VmidRange>;
  /**
   * Candidates tried per allocation before VmidExhaustedError.
   * @defaultValue 25
   */
  maxAttempts?: number;
}

export interface LeaseRequest {
  /** The Proxmox target (platforms row) the id belongs to. */
  platformId: string;
  /** Who holds it: a job or VM id, so a resumed job finds its own lease. */
  owner: string;
  /**
   * Lease lifetime; renew it while the work goes on. An owner that dies lets it lapse.
   * @defaultValue 900000
   */
  ttlMs?: number;
}

export interface VmidLease {
  platformId: string;
  vmid: number;
  owner: string;
  expiresAt: Date;
}

const defaultTtlMs = 15 * 60 * 1000;

export class VmidAllocator {
  readonly range: VmidRange;
  readonly #db: Db;
  readonly #cluster: ClusterApi;
  readonly #maxAttempts: number;

  constructor(options: VmidAllocatorOptions) {
    this.#db = options.db;
    this.#cluster = options.cluster;
    this.range = { min: 10000, max: 99999, ...options.range };
    this.#maxAttempts = options.maxAttempts ?? 25;
  }

  /**
   * Leases an id no live lease holds and no VM of the cluster uses, confirmed with
   * `GET /cluster/nextid?vmid=N`. An owner that already holds a live lease gets that one back (renewed).
   */
  async allocateVmid(request: LeaseRequest): Promise<number> {
    const ttlMs = request.ttlMs ?? defaultTtlMs;
    const held = await this.findLeaseByOwner(request);
    if (held && (await this.renewLease({ ...request, vmid: held.vmid, ttlMs }))) return held.vmid;

    const rejected = new Set<number>();
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const vmid = await this.#pickCandidate(request.platformId, rejected);
      if (vmid === undefined) break;
      rejected.add(vmid);
      if (!(await this.#insertLease(request, vmid, ttlMs))) continue;
      // Resources lag behind clones still being written; the probe sees every config file.
      if (await this.#cluster.isVmidFree(vmid)) return vmid;
      await this.releaseVmid({ ...request, vmid });
    }
    throw new VmidExhaustedError(
      `no free VMID in [${this.range.min}, ${this.range.max}] for ${request.platformId} after ${rejected.size} candidates`,
    );
  }

  /** Extends a live lease; false when it is no longer this owner's (expired and taken over, or released). */
  async renewLease(request: LeaseRequest & { vmid: number }): Promise<boolean> {
    const result = await this.#db
      .updateTable('vmid_leases')
      .set((eb) => ({
        expires_at: eb(
          eb.fn('now'),
          '+',
          eb.fn('make_interval', secondsArgs(eb, request.ttlMs ?? defaultTtlMs)),
        ).$castTo<Date>(),
      }))
      .where('platform_id', '=', request.platformId)
      .where('vmid', '=', request.vmid)
      .where('owner', '=', request.owner)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Gives the id back (only this owner's lease is removed). */
  async releaseVmid(request: { platformId: string; owner: string; vmid: number }): Promise<void> {
    await this.#db
      .deleteFrom('vmid_leases')
      .where('platform_id', '=', request.platformId)
      .where('vmid', '=', request.vmid)
      .where('owner', '=', request.owner)
      .execute();
  }

  /** The owner's live lease on the platform, newest first; how a resumed job finds the id it had. */
  async findLeaseByOwner(request: { platformId: string; owner: string }): Promise<VmidLease | undefined> {
    const row = await this.#db
      .selectFrom('vmid_leases')
      .select(['platform_id', 'vmid', 'owner', 'expires_at'])
      .where('platform_id', '=', request.platformId)
      .where('owner', '=', request.owner)
      .where((eb) => eb('expires_at', '>', eb.fn<Date>('now')))
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    return row && { platformId: row.platform_id, vmid: row.vmid, owner: row.owner, expiresAt: row.expires_at };
  }

  /**
   * A random free id of the range, so concurrent allocators rarely collide on the same row; falls back
   * to a scan from a random start when the range is crowded.
   */
  async #pickCandidate(platformId: string, rejected: ReadonlySet<number>): Promise<number | undefined> {
    const used = await this.#usedIds(platformId);
    const isFree = (vmid: number) => !used.has(vmid) && !rejected.has(vmid);
    const size = this.range.max - this.range.min + 1;
    for (let tries = 0; tries < 32; tries++) {
      const vmid = this.range.min + Math.floor(Math.random() * size);
      if (isFree(vmid)) return vmid;
    }
    const start = Math.floor(Math.random() * size);
    for (let offset = 0; offset < size; offset++) {
      const vmid = this.range.min + ((start + offset) % size);
      if (isFree(vmid)) return vmid;
    }
    return undefined;
  }

  async #usedIds(platformId: string): Promise<Set<number>> {
    const [resources, leases] = await Promise.all([
      this.#cluster.resources('vm'),
      this.#db
        .selectFrom('vmid_leases')
        .select('vmid')
        .where('platform_id', '=', platformId)
        .where('vmid', '>=', this.range.min)
        .where('vmid', '<=', this.range.max)
        .where((eb) => eb('expires_at', '>', eb.fn<Date>('now')))
        .execute(),
    ]);
    const used = new Set(leases.map((lease) => lease.vmid));
    for (const resource of resources) if (resource.vmid !== undefined) used.add(resource.vmid);
    return used;
  }

  /** Inserts the lease, or takes over an expired one; false when a live lease holds the id. */
  async #insertLease(request: LeaseRequest, vmid: number, ttlMs: number): Promise<boolean> {
    const row = await this.#db
      .insertInto('vmid_leases')
      .values((eb) => ({
        platform_id: request.platformId,
        vmid,
        owner: request.owner,
        expires_at: eb(eb.fn('now'), '+', eb.fn('make_interval', secondsArgs(eb, ttlMs))).$castTo<Date>(),
      }))
      .onConflict((oc) =>
        oc
          .columns(['platform_id', 'vmid'])
          .doUpdateSet((eb) => ({
            owner: eb.ref('excluded.owner'),
            expires_at: eb.ref('excluded.expires_at'),
            created_at: eb.fn<Date>('now'),
          }))
          .where((eb) => eb('vmid_leases.expires_at', '<=', eb.fn<Date>('now'))),
      )
      .returning('vmid')
      .executeTakeFirst();
    return row !== undefined;
  }
}

/**
 * Arguments of `make_interval(years, months, weeks, days, hours, mins, secs)` for `ms`: leases expire by
 * Postgres's clock (`now() + interval`), the one clock every machine shares.
 */
function secondsArgs<V>(eb: { val: (value: number) => V }, ms: number): V[] {
  return [0, 0, 0, 0, 0, 0, ms / 1000].map((value) => eb.val(value));
}
