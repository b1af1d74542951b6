import type { SpecIssue } from '../issues';
import type { LabSpecParsed } from '../lab-schema';
import { checkOsMinimums } from '../vm-checks';

/** Rules about each VM entry on its own: what it is cloned from, who logs in, sizes, static addresses. */
export function checkVmEntries(spec: LabSpecParsed): SpecIssue[] {
  return spec.vms.flatMap((vm, index) => {
    const at = ['vms', index];
    const issues: SpecIssue[] = [];
    if (vm.os === undefined && vm.template === undefined) {
      issues.push({ path: at, message: 'needs an os or a template to clone' });
    }
    if (vm.os === undefined && vm.cloudInit?.user === undefined) {
      issues.push({
        path: [...at, 'cloudInit', 'user'],
        message: 'is required when no os is given: the template’s login user is not known',
      });
    }
    issues.push(...checkOsMinimums(vm, at));
    if ((vm.count ?? 1) > 1) {
      vm.networks.forEach((network, position) => {
        if (typeof network === 'object' && network.ip !== undefined) {
          issues.push({
            path: [...at, 'networks', position, 'ip'],
            message: 'a static address cannot be shared by the count > 1 copies of this VM',
          });
        }
      });
    }
    return issues;
  });
}
