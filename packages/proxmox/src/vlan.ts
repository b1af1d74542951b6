import { randomInt } from 'node:crypto';
/**
 * VLAN tags for lab networks. A tag is a lab network's own L2 segment on the VLAN-aware bridge (or the
 * tag of its SDN VNet), so two labs must never share one: the reservation is a lease in a shared store
 * (Postgres in Glassdome: `PostgresVlanLeaseStore` of `@glassdome/db`), unique per platform and tag,
 * and one per owner, so a retried task gets its own tag back.
 */
import { VlanExhaustedError } from './errors';

export interface VlanRange {
  /** Lowest tag handed out. */
  min: number;
  /** Highest tag handed out. */
  max: number;
}

export interface VlanLease {
  platformId: string;
  tag: number;
  /** Who holds it (a lab task), so a retry finds its own tag. */
  owner: string;
  labId: string | null;
  /** The lab network the tag carries, for people reading the table. */
  network: string | null;
}

/** Where VLAN leases live. Every operation is atomic on its own (one statement in Postgres). */
export interface VlanLeaseStore {
  /** The tag the owner holds on the platform, if any. */
  findTag(owner: { platformId: string; owner: string }): Promise<number | undefined>;
  /** Every tag leased on the platform. */
  listTags(platformId: string): Promise<number[]>;
  /** Takes the tag; false when it (or the owner) already has a lease on the platform. */
  acquire(lease: VlanLease): Promise<boolean>;
  /** Releases every tag of the lab (its tear-down). */
  releaseLab(labId: string): Promise<void>;
}

export interface VlanAllocatorOptions {
  /** Where the leases live, shared by every worker: `new PostgresVlanLeaseStore(db)`. */
  leases: VlanLeaseStore;
  /** Tags Glassdome may use. */
  range: VlanRange;
  /**
   * Rounds of "lowest free tag, then take it" before giving up when other workers keep winning the race.
   * @defaultValue 20
   */
  maxAttempts?: number;
}

/** Parses `first-last` (e.g. `100-3999`), the form NETWORK_VLAN_RANGE takes. */
export function parseVlanRange(text: string): VlanRange {
  const match = /^(\d{1,4})-(\d{1,4})$/.exec(text.trim());
  const [min, max] = match ? [Number(match[1]), Number(match[2])] : [Number.NaN, Number.NaN];
  if (!match || min < 1 || max > 4094 || min > max) {
    throw new RangeError(`VLAN range must be first-last within 1-4094, e.g. 100-3999 (got ${JSON.stringify(text)})`);
  }
  return { min, max };
}

export class VlanAllocator {
  readonly range: VlanRange;
  readonly #leases: VlanLeaseStore;
  readonly #maxAttempts: number;

  constructor(options: VlanAllocatorOptions) {
    this.#leases = options.leases;
    this.range = options.range;
    this.#maxAttempts = options.maxAttempts ?? 20;
  }

  /**
   * Leases a free tag of the range, picked at random (so a lab's tag says nothing about another's), to
   * the owner; an owner that already holds one gets it back.
   * Throws VlanExhaustedError (not retryable) when every tag of the range is leased.
   */
  async allocateVlan(lease: Omit<VlanLease, 'tag'>): Promise<number> {
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const held = await this.#leases.findTag(lease);
      if (held !== undefined) return held;
      const taken = new Set(await this.#leases.listTags(lease.platformId));
      const free =
        this.range.max -
        this.range.min +
        1 -
        [...taken].filter((t) => t >= this.range.min && t <= this.range.max).length;
      if (free <= 0) throw new VlanExhaustedError(`no free VLAN tag in ${this.range.min}-${this.range.max}`);
      let skip = randomInt(free);
      let tag = this.range.min;
      for (; tag <= this.range.max; tag++) {
        if (taken.has(tag)) continue;
        if (skip-- === 0) break;
      }
      if (await this.#leases.acquire({ ...lease, tag })) return tag;
    }
    throw new Error(`VLAN lease contention: no tag after ${this.#maxAttempts} tries`);
  }

  /** Gives back every tag of the lab. */
  releaseLab(labId: string): Promise<void> {
    return this.#leases.releaseLab(labId);
  }
}

/** The SDN VNet id Glassdome gives the network on `tag`: `gdv` + the tag in base 36 (PVE allows 8 characters). */
export function vnetIdOfTag(tag: number): string {
  return `gdv${tag.toString(36).padStart(3, '0')}`;
}
