import { describeCycle, findCycle } from '../../graph/cycle';
import type { SpecIssue } from '../issues';
import type { LabSpecParsed } from '../lab-schema';

/** dependsOn must name VM entries of this spec and must not go round in a circle. */
export function checkDependencies(spec: LabSpecParsed): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const indexByName = new Map(spec.vms.map((vm, index) => [vm.name, index]));
  const known = new Map<string, string[]>();
  spec.vms.forEach((vm, index) => {
    vm.dependsOn.forEach((name, position) => {
      if (!indexByName.has(name)) {
        issues.push({ path: ['vms', index, 'dependsOn', position], message: `no VM named "${name}" in this lab` });
      }
    });
    known.set(
      vm.name,
      vm.dependsOn.filter((name) => indexByName.has(name)),
    );
  });

  // Report each cycle once; removing a cycle's VMs before looking again reveals the next disjoint one.
  const remaining = new Set(known.keys());
  for (;;) {
    const cycle = findCycle(remaining, (name) => (known.get(name) ?? []).filter((dep) => remaining.has(dep)));
    if (!cycle) break;
    issues.push({
      path: ['vms', indexByName.get(cycle[0]!)!, 'dependsOn'],
      message: `dependsOn cycle: ${describeCycle(cycle)}`,
    });
    for (const name of cycle) remaining.delete(name);
  }
  return issues;
}
