/**
 * VMID allocation that holds under any number of workers on any number of machines. Proxmox has no
 * "reserve an id" call and `/cluster/nextid` hands the same id to concurrent callers, so the reservation
 * is a lease in a shared store (Postgres in Glassdome: `PostgresVmidLeaseStore` of `@glassdome/db`),
 * keyed by platform + vmid, taken over only once it has expired, and drawn from the ids the cluster's VM
 * list does not show. A leased id is for a clone: PVE refuses a clone onto an id any guest of the
 * cluster holds (see `cloneVm`, which then leases another), so nothing else is asked of the cluster.
 */
import type { ClusterApi, ClusterResource } from './cluster';
import { VmidExhaustedError } from './errors';

export interface VmidRange {
  /** @defaultValue 10000 */
  min: number;
  /** @defaultValue 99999 */
  max: number;
}

/**
 * Where VMID leases live. Every operation is atomic on its own (one statement in Postgres), and expiry
 * is judged by the store's clock, so machines with skewed clocks agree on which leases are live.
 */
export interface VmidLeaseStore {
  /** The owner's newest live lease on the platform. */
  findLive(owner: { platformId: string; owner: string }): Promise<VmidLease | undefined>;
  /**
   * Renews the owner's newest live lease on the platform for `ttlMs` and returns its id; undefined when
   * the owner holds none (one statement in Postgres: what `findLive` then `renew` would do).
   */
  renewHeld(lease: { platformId: string; owner: string; ttlMs: number }): Promise<number | undefined>;
  /**
   * `renewHeld`, and when the owner holds no live lease, `acquire` of `vmid` (one statement in
   * Postgres): the held lease's id, else `vmid` once leased; undefined when the owner held none and a
   * live lease holds `vmid`.
   */
  renewHeldOrAcquire(lease: {
    platformId: string;
    vmid: number;
    owner: string;
    ttlMs: number;
  }): Promise<number | undefined>;
  /** Ids in `range` that live leases of the platform hold. */
  listLive(platformId: string, range: VmidRange): Promise<number[]>;
  /** Takes the id for `ttlMs` if no live lease holds it (an expired lease is taken over); false otherwise. */
  acquire(lease: { platformId: string; vmid: number; owner: string; ttlMs: number }): Promise<boolean>;
  /** Moves this owner's lease to expire `ttlMs` from now; false when the lease is no longer theirs. */
  renew(lease: { platformId: string; vmid: number; owner: string; ttlMs: number }): Promise<boolean>;
  /** Removes this owner's lease of the id (someone else's lease of it stays). */
  release(lease: { platformId: string; vmid: number; owner: string }): Promise<void>;
}

export interface VmidAllocatorOptions {
  /** Where the leases live, shared by every allocator of every worker: `new PostgresVmidLeaseStore(db)`. */
  leases: VmidLeaseStore;
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
  /**
   * How old the cluster's VM list that candidates are drawn from may be. Allocations within this time
   * of each other (a lab's VMs all start at once) share one `GET /cluster/resources` — a list of every
   * VM of the cluster — instead of one each. The list only steers the pick: the lease and the clone
   * decide, so a VM it does not show yet costs one clone refused and another id.
   * @defaultValue 1000
   */
  resourcesMaxAgeMs?: number;
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
  /**
   * A reservation whose clone follows at once (the installer's `reserve-vmid`): the owner's next
   * allocation by this allocator, if it is the clone's first (`takeHandOff`), gets this id back
   * without asking the store again, once, while at least two thirds of the lease are sure to remain.
   * Any other allocation asks the store, and forgets the id handed off.
   */
  handOff?: boolean;
  /**
   * The clone's first allocation on its first attempt (nothing submitted for the owner before): the
   * only one that may take an id handed off. A repeat (a retried job, a stopped one run again) asks
   * the store, which says whether the lease is still the owner's.
   */
  takeHandOff?: boolean;
}

export interface VmidLease {
  platformId: string;
  vmid: number;
  owner: string;
  expiresAt: Date;
}

const defaultTtlMs = 15 * 60 * 1000;
/** Owners remembered as holding a lease from this allocator (a hint, see `#leased`). */
const LEASED_KEPT = 10_000;

export class VmidAllocator {
  readonly range: VmidRange;
  readonly #leases: VmidLeaseStore;
  readonly #cluster: ClusterApi;
  readonly #maxAttempts: number;
  readonly #resourcesMaxAgeMs: number;
  /** The latest cluster VM list read (or being read), and when it was asked for. */
  #resources: { askedAt: number; list: Promise<ClusterResource[]> } | undefined;
  /**
   * Owners (by platform) this allocator leased an id to and has not released: their next allocation
   * that asks the store (a repeated reservation or clone) renews that lease first, with no candidate drawn. Only a
   * hint: an owner missing here (another process leased it, or it was forgotten) is renewed by the
   * statement that would take the candidate, and one whose lease is gone gets a new one.
   */
  readonly #leased = new Set<string>();
  /**
   * Ids reserved with `handOff` and not yet taken, by owner: until when (performance.now()) the owner's
   * next allocation may take it unasked. The lease lives at least `ttlMs` from before its statement was
   * sent (the store's expiry is its now() + ttlMs), so a third of that leaves two thirds for the clone,
   * which renews its lease every third.
   */
  readonly #handedOff = new Map<string, { vmid: number; until: number }>();

  constructor(options: VmidAllocatorOptions) {
    this.#leases = options.leases;
    this.#cluster = options.cluster;
    this.range = { min: 10000, max: 99999, ...options.range };
    this.#maxAttempts = options.maxAttempts ?? 25;
    this.#resourcesMaxAgeMs = options.resourcesMaxAgeMs ?? 1000;
  }

  /**
   * Leases an id no live lease holds and the cluster's VM list (read at most `resourcesMaxAgeMs` ago)
   * does not show. It is not asked whether the id is free (`GET /cluster/nextid?vmid=N`): that answer
   * would be stale by the time the clone comes, and the clone checks it anyway, refusing an id taken
   * meanwhile (`cloneVm` then leases another). An owner that already holds a live lease gets that one
   * back (renewed); right after a `handOff` reservation, from memory (see `LeaseRequest.handOff`).
   */
  async allocateVmid(request: LeaseRequest): Promise<number> {
    const ttlMs = request.ttlMs ?? defaultTtlMs;
    const owner = { platformId: request.platformId, owner: request.owner };
    const key = leasedKey(owner);
    const handed = this.#handedOff.get(key);
    if (handed !== undefined) {
      this.#handedOff.delete(key);
      if (request.takeHandOff && performance.now() < handed.until) return handed.vmid;
    }
    const askedAt = performance.now();
    const vmid = await this.#allocate(request, owner, ttlMs);
    if (request.handOff) {
      if (this.#handedOff.size >= LEASED_KEPT) this.#handedOff.delete(this.#handedOff.keys().next().value!);
      this.#handedOff.set(key, { vmid, until: askedAt + ttlMs / 3 });
    }
    return vmid;
  }

  async #allocate(request: LeaseRequest, owner: { platformId: string; owner: string }, ttlMs: number): Promise<number> {
    if (this.#leased.has(leasedKey(owner))) {
      const held = await this.#leases.renewHeld({ ...owner, ttlMs });
      if (held !== undefined) return held;
      this.#leased.delete(leasedKey(owner));
    }

    const rejected = new Set<number>();
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      // The first candidate is drawn from the ids the cluster uses alone: in a range this wide a live
      // lease rarely holds a random id, and the lease itself refuses one that does. Once refused, the
      // live leases steer the picks too (a crowded range).
      const vmid = await this.#pickCandidate(request.platformId, rejected, rejected.size > 0);
      if (vmid === undefined) {
        // No candidate at all: a lease the owner holds (its VM may fill the range) is still its.
        const held = attempt === 0 ? await this.#leases.renewHeld({ ...owner, ttlMs }) : undefined;
        if (held === undefined) break;
        this.#rememberLeased(owner);
        return held;
      }
      rejected.add(vmid);
      // The first candidate goes with the renewal of a lease the owner may already hold (a resumed
      // job's); once that said it holds none, later candidates are only acquired.
      const leased =
        attempt === 0
          ? await this.#leases.renewHeldOrAcquire({ ...owner, vmid, ttlMs })
          : (await this.#leases.acquire({ ...owner, vmid, ttlMs }))
            ? vmid
            : undefined;
      if (leased === undefined) continue;
      this.#rememberLeased(owner);
      return leased;
    }
    throw new VmidExhaustedError(
      `no free VMID in [${this.range.min}, ${this.range.max}] for ${request.platformId} after ${rejected.size} candidates`,
    );
  }

  /** Extends a live lease; false when it is no longer this owner's (expired and taken over, or released). */
  async renewLease(request: LeaseRequest & { vmid: number }): Promise<boolean> {
    return this.#leases.renew({ ...request, ttlMs: request.ttlMs ?? defaultTtlMs });
  }

  /**
   * Gives the id back (only this owner's lease is removed). `taken`: a VM outside Glassdome proved to
   * hold it (a clone onto it was refused), so the next picks come from the cluster's VM list read anew,
   * which shows that VM, rather than from the one that did not.
   */
  async releaseVmid(request: { platformId: string; owner: string; vmid: number; taken?: boolean }): Promise<void> {
    if (request.taken) this.#resources = undefined;
    this.#leased.delete(leasedKey(request));
    this.#handedOff.delete(leasedKey(request));
    await this.#leases.release(request);
  }

  /** The owner's live lease on the platform, newest first; how a resumed job finds the id it had. */
  async findLeaseByOwner(request: { platformId: string; owner: string }): Promise<VmidLease | undefined> {
    return this.#leases.findLive(request);
  }

  #rememberLeased(owner: { platformId: string; owner: string }): void {
    if (this.#leased.size >= LEASED_KEPT) this.#leased.delete(this.#leased.values().next().value!);
    this.#leased.add(leasedKey(owner));
  }

  /**
   * A random free id of the range, so concurrent allocators rarely collide on the same row; falls back
   * to a scan from a random start when the range is crowded.
   */
  async #pickCandidate(
    platformId: string,
    rejected: ReadonlySet<number>,
    withLeases: boolean,
  ): Promise<number | undefined> {
    const used = await this.#usedIds(platformId, withLeases);
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

  /** Ids the cluster's VMs use (as read lately) and, `withLeases`, those live leases of the platform hold. */
  async #usedIds(platformId: string, withLeases: boolean): Promise<Set<number>> {
    const [resources, leased] = await Promise.all([
      this.#recentResources(),
      withLeases ? this.#leases.listLive(platformId, this.range) : [],
    ]);
    const used = new Set(leased);
    for (const resource of resources) if (resource.vmid !== undefined) used.add(resource.vmid);
    return used;
  }

  /** The cluster's VMs as read at most `resourcesMaxAgeMs` ago, one read shared by every caller meanwhile. */
  #recentResources(): Promise<ClusterResource[]> {
    const now = Date.now();
    const recent = this.#resources;
    if (recent && now - recent.askedAt <= this.#resourcesMaxAgeMs) return recent.list;
    const list = this.#cluster.resources('vm');
    const entry = { askedAt: now, list };
    this.#resources = entry;
    // A failed read is not handed to later callers.
    list.catch(() => {
      if (this.#resources === entry) this.#resources = undefined;
    });
    return list;
  }
}

function leasedKey(owner: { platformId: string; owner: string }): string {
  return `${owner.platformId}\n${owner.owner}`;
}
