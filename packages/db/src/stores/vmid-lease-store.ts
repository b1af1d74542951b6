import type { Db } from '../connection';
import {
  deleteVmidLease,
  findLiveVmidLeaseOfOwner,
  insertVmidLease,
  listLiveLeasedVmids,
  renewNewestVmidLeaseOfOwner,
  renewOrInsertVmidLease,
  renewVmidLease,
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

  renewHeldOrAcquire(lease: { platformId: string; vmid: number; owner: string; ttlMs: number }) {
    return renewOrInsertVmidLease(this.#db, lease);
  }

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
