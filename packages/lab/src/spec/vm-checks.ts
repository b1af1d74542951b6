import type { SpecIssue } from './issues';
import { OS_PROFILES, type OsName } from './os-profiles';

/**
 * Sizes below what the OS profile needs: less memory than it boots with, or a disk smaller than the
 * template's (a clone's disk can grow but never shrink).
 */
export function checkOsMinimums(
  vm: { os?: OsName | undefined; memoryMiB?: number | undefined; diskGiB?: number | undefined },
  path: (string | number)[],
): SpecIssue[] {
  if (!vm.os) return [];
  const profile = OS_PROFILES[vm.os];
  const issues: SpecIssue[] = [];
  if (vm.memoryMiB !== undefined && vm.memoryMiB < profile.minMemoryMiB) {
    issues.push({
      path: [...path, 'memoryMiB'],
      message: `${profile.label} needs at least ${profile.minMemoryMiB} MiB`,
    });
  }
  if (vm.diskGiB !== undefined && vm.diskGiB < profile.minDiskGiB) {
    issues.push({
      path: [...path, 'diskGiB'],
      message: `${profile.label}'s template disk is ${profile.minDiskGiB} GiB and a clone cannot shrink it`,
    });
  }
  return issues;
}
