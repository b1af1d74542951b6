import { instanceNames } from './instances';
import { defaultSizes, type OsName } from './os-profiles';

/** What a lab deployment adds up to, over all copies. */
export interface LabTotals {
  vms: number;
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
}

interface SizedVm {
  name: string;
  os?: OsName | undefined;
  count?: number | undefined;
  cpus?: number | undefined;
  memoryMiB?: number | undefined;
  diskGiB?: number | undefined;
}

/** Totals of a spec, with sizes left out taken from the OS profile as deployment will. */
export function labTotals(spec: { copies: number; vms: readonly SizedVm[] }): LabTotals {
  const perCopy = { vms: 0, cpus: 0, memoryMiB: 0, diskGiB: 0 };
  for (const vm of spec.vms) {
    const n = instanceNames(vm).length;
    const defaults = defaultSizes(vm.os);
    perCopy.vms += n;
    perCopy.cpus += n * (vm.cpus ?? defaults.cpus);
    perCopy.memoryMiB += n * (vm.memoryMiB ?? defaults.memoryMiB);
    perCopy.diskGiB += n * (vm.diskGiB ?? defaults.diskGiB);
  }
  return {
    vms: perCopy.vms * spec.copies,
    cpus: perCopy.cpus * spec.copies,
    memoryMiB: perCopy.memoryMiB * spec.copies,
    diskGiB: perCopy.diskGiB * spec.copies,
  };
}
