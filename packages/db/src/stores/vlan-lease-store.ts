import type { Db } from '../connection';
import {
  deleteNetworkLeasesOfLab,
  findNetworkLeaseTagOfOwner,
  insertNetworkLease,
  listLeasedNetworkTags,
} from '../repositories/network-leases';

/**
 * VLAN tags of lab networks as rows of `network_leases` (primary key platform + tag, one tag per owner):
 * the `VlanLeaseStore` that `@glassdome/proxmox`'s VlanAllocator takes.
 */
export class PostgresVlanLeaseStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  findTag(owner: { platformId: string; owner: string }) {
    return findNetworkLeaseTagOfOwner(this.#db, owner);
  }

  listTags(platformId: string) {
    return listLeasedNetworkTags(this.#db, platformId);
  }

  acquire(lease: { platformId: string; tag: number; owner: string; labId: string | null; network: string | null }) {
    return insertNetworkLease(this.#db, lease);
  }

  releaseLab(labId: string) {
    return deleteNetworkLeasesOfLab(this.#db, labId);
  }
}
