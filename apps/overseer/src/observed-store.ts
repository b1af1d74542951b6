/** Writes what a scan saw into `vms.observed_status` / `observed_at`, in a few batched statements. */
import { type Db, setObservedStatuses } from '@glassdome/db';
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
    await setObservedStatuses(db, observed.slice(start, start + BATCH));
  }
  return observed.length;
}
