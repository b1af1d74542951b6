import type { SpecIssue } from '../issues';
import type { LabSpecParsed } from '../lab-schema';
import type { Quotas } from '../quotas';
import { resolveLabSpec } from '../resolve';
import { checkDependencies } from './dependencies';
import { checkNames } from './names';
import { checkNetworks } from './networks';
import { checkQuotas } from './quotas';
import { checkRuleReach, checkRules } from './rules';
import { checkVmEntries } from './vms';

/**
 * Every rule that spans fields, run on a spec whose shape the schema has accepted. Whether each
 * network rule can carry traffic depends on every address and route, so it is checked last, on a
 * spec that passed everything else.
 */
export function validateLabSpec(spec: LabSpecParsed, quotas: Quotas): SpecIssue[] {
  const issues = [
    ...checkNames(spec),
    ...checkVmEntries(spec),
    ...checkNetworks(spec),
    ...checkRules(spec),
    ...checkDependencies(spec),
    ...checkQuotas(spec, quotas),
  ];
  return issues.length > 0 ? issues : checkRuleReach(resolveLabSpec(spec));
}
