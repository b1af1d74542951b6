import { instanceNames } from '../instances';
import type { SpecIssue } from '../issues';
import type { LabSpecParsed } from '../lab-schema';
import { MAX_RESOURCE_NAME_LENGTH } from '../names';

/** Network names unique; VM names unique, also after `count` expands them, and still short enough. */
export function checkNames(spec: LabSpecParsed): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const networkIndex = new Map<string, number>();
  spec.networks.forEach((network, index) => {
    const first = networkIndex.get(network.name);
    if (first === undefined) networkIndex.set(network.name, index);
    else issues.push({ path: ['networks', index, 'name'], message: `duplicate name: networks[${first}] has it too` });
  });

  const nameOwner = new Map<string, number>();
  spec.vms.forEach((vm, index) => {
    const names = instanceNames(vm);
    const longest = names.reduce((a, b) => (b.length > a.length ? b : a));
    if (longest.length > MAX_RESOURCE_NAME_LENGTH) {
      issues.push({
        path: ['vms', index, 'name'],
        message: `with count ${vm.count} the instance names reach ${longest.length} characters (at most ${MAX_RESOURCE_NAME_LENGTH})`,
      });
    }
    // The entry's own name is taken too: dependsOn refers to it.
    const taken = [...new Set([vm.name, ...names])];
    const clash = taken.find((name) => nameOwner.has(name));
    if (clash !== undefined) {
      const detail = clash === vm.name ? '' : ` (instance ${clash})`;
      issues.push({
        path: ['vms', index, 'name'],
        message: `duplicate name${detail}: vms[${nameOwner.get(clash)}] uses it too`,
      });
    }
    for (const name of taken) if (!nameOwner.has(name)) nameOwner.set(name, index);
  });
  return issues;
}
