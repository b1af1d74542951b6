import { PostgresVmidLeaseStore, type VmidLeaseAsk } from '@glassdome/db';
import { coalesced } from '@glassdome/lab-run';

/**
 * The installer's VMID leases: the first lease each of a lab's VMs asks for (some 45 of them at once
 * when a lab's provision tasks start) is taken together with the others asked for in the same turn,
 * in one statement (`coalesced`), not one each queued on the pool ahead of the steps' records.
 */
export class InstallerVmidLeaseStore extends PostgresVmidLeaseStore {
  readonly #renewHeldOrAcquire = coalesced((_group: string, leases: VmidLeaseAsk[]) =>
    this.renewHeldOrAcquireAll(leases),
  );

  override renewHeldOrAcquire(lease: VmidLeaseAsk) {
    return this.#renewHeldOrAcquire('', lease);
  }
}
