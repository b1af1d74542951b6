import { ruleHasPath } from '../../network/rule-paths';
import { labTopology } from '../../network/topology';
import { instanceNames } from '../instances';
import type { SpecIssue } from '../issues';
import type { LabSpecParsed } from '../lab-schema';
import type { LabSpec } from '../resolve';

function unknownName(spec: LabSpecParsed, name: string): string {
  const owner = spec.vms.find((vm) => vm.count !== undefined && instanceNames(vm).includes(name));
  if (owner)
    return `no network or VM named "${name}": rules name VM entries, and ${name} is an instance of ${owner.name}`;
  return `no network or VM named "${name}" in this lab`;
}

/**
 * Each rule's `from` and `to` name one network or one VM entry of this lab, and say something the
 * defaults do not: a VM's traffic to itself never leaves it, and traffic inside a network is open
 * unless the network says `intra: deny`.
 */
export function checkRules(spec: LabSpecParsed): SpecIssue[] {
  const networks = new Map(spec.networks.map((network) => [network.name, network]));
  const vms = new Map(spec.vms.map((vm) => [vm.name, vm]));
  const issues: SpecIssue[] = [];
  spec.rules.forEach((rule, index) => {
    let known = true;
    for (const side of ['from', 'to'] as const) {
      const name = rule[side];
      const at = ['rules', index, side];
      if (networks.has(name) && vms.has(name)) {
        issues.push({ path: at, message: `"${name}" names both a network and a VM: rename one of them` });
        known = false;
      } else if (!networks.has(name) && !vms.has(name)) {
        issues.push({ path: at, message: unknownName(spec, name) });
        known = false;
      }
    }
    if (!known || rule.from !== rule.to) return;
    const network = networks.get(rule.from);
    if (network && network.intra === 'allow') {
      issues.push({
        path: ['rules', index, 'to'],
        message: `traffic inside ${network.name} is already allowed: set intra: deny on ${network.name} to limit it with rules`,
      });
    }
    const vm = vms.get(rule.from);
    if (vm && vm.count === undefined) {
      issues.push({
        path: ['rules', index, 'to'],
        message: `${vm.name}'s traffic to itself never crosses its firewall`,
      });
    }
  });
  return issues;
}

/**
 * Each rule must be able to carry traffic: some VM of `from` must reach some VM of `to`, on a
 * shared network or through a router (the VM holding a network's gateway), with a way back. Runs on
 * a spec that passed every other check.
 */
export function checkRuleReach(spec: LabSpec): SpecIssue[] {
  if (spec.rules.length === 0) return [];
  const topology = labTopology(spec);
  return spec.rules.flatMap((rule, index) => {
    if (ruleHasPath(topology, rule)) return [];
    return [
      {
        path: ['rules', index],
        message: `nothing in ${rule.from} can reach ${rule.to}: they share no network, and no router (a VM holding a network's gateway) joins them`,
      },
    ];
  });
}
