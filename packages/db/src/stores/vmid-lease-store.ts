import { coalesced } from '../coalesce';
import type { Db } from '../connection';
import {
  deleteVmidLease,
  findLiveVmidLeaseOfOwner,
  insertVmidLease,
  listLiveLeasedVmids,
  renewNewestVmidLeaseOfOwner,
  renewOrInsertVmidLeases,
  renewVmidLease,
  type VmidLeaseAsk,
} from '../repositories/vmid-leases';

/**
 * VMID leases as rows of `vmid_leases` (primary key platform + vmid), expiring by Postgres's clock:
 * the `VmidLeaseStore` that `@glassdome/proxmox`'s VmidAllocator takes.
 */
export class PostgresVmidLeaseStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  findLive(owner: { platformId: string; owner: string }) {
    return findLiveVmidLeaseOfOwner(this.#db, owner);
  }

  renewHeld(lease: { platformId: string; owner: string; ttlMs: number }) {
    return renewNewestVmidLeaseOfOwner(this.#db, lease);
  }

  /**
   * The first lease a VM asks for: the asks made in one turn of the event loop (some 45 when a lab's
   * provision tasks start) are answered by one statement (`coalesced`), each as if the asks had run
   * one after another, not one statement each queued on the pool ahead of the steps' records.
   */
  renewHeldOrAcquire(lease: VmidLeaseAsk) {
    return this.#renewHeldOrAcquire('', lease);
  }

  readonly #renewHeldOrAcquire = coalesced((_group: string, leases: VmidLeaseAsk[]) =>
    renewOrInsertVmidLeases(this.#db, leases),
  );

  listLive(platformId: string, range: { min: number; max: number }) {
    return listLiveLeasedVmids(this.#db, platformId, range);
  }

  acquire(lease: { platformId: string; vmid: number; owner: string; ttlMs: number }) {
    return insertVmidLease(this.#db, lease);
  }

  renew(lease: { platformId: string; vmid: number; owner: string; ttlMs: number }) {
    return renewVmidLease(this.#db, lease);
  }

  release(lease: { platformId: string; vmid: number; owner: string }) {
    return deleteVmidLease(this.#db, lease);
  }
}
