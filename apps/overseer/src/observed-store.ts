/** Writes what a scan saw into `vms.observed_status` / `observed_at`, in a few batched statements. */
import type { Db } from '@glassdome/db';
import { sql } from 'kysely';
import type { DesiredVm } from './desired';
import type { Inventory } from './inventory';

/** The status Proxmox reported for a recorded VM, or `missing` when its VMID is gone. */
export function observedStatusOf(vm: DesiredVm, inventory: Inventory): string | undefined {
  if (vm.vmid === null) return undefined;
  return inventory.vms.get(vm.vmid)?.status ?? 'missing';
}

const BATCH = 1000;

export async function recordObservedState(db: Db, vms: readonly DesiredVm[], inventory: Inventory): Promise<number> {
  const observed = vms.flatMap((vm) => {
    const status = observedStatusOf(vm, inventory);
    return status === undefined ? [] : [{ id: vm.id, status }];
  });
  for (let start = 0; start < observed.length; start += BATCH) {
    const batch = observed.slice(start, start + BATCH);
    const values = sql.join(batch.map((row) => sql`(${row.id}::uuid, ${row.status})`));
    await sql`
      update vms set observed_status = v.status, observed_at = now()
      from (values ${values}) as v(id, status)
      where vms.id = v.id`.execute(db);
  }
  return observed.length;
}
