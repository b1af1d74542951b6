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

  async renewHeldOrAcquire(lease: VmidLeaseAsk) {
    const [vmid] = await renewOrInsertVmidLeases(this.#db, [lease]);
    return vmid;
  }

  /**
   * `renewHeldOrAcquire` of each lease, as if one after another in order, in one statement (one more
   * for each owner asking again): for the leases many VMs ask for at once.
   */
  renewHeldOrAcquireAll(leases: readonly VmidLeaseAsk[]) {
    return renewOrInsertVmidLeases(this.#db, leases);
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
