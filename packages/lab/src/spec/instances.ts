/**
 * `count: N` turns one VM entry into N VMs named {name}-1 … {name}-N; without `count` the entry is
 * one VM under its own name. dependsOn on a counted entry means all of its instances.
 */
export function instanceNames(vm: { name: string; count?: number | undefined }): string[] {
  if (vm.count === undefined) return [vm.name];
  return Array.from({ length: vm.count }, (_, index) => `${vm.name}-${index + 1}`);
}
