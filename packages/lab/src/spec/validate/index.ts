import type { SpecIssue } from '../issues';
import type { LabSpecParsed } from '../lab-schema';
import type { Quotas } from '../quotas';
import { checkDependencies } from './dependencies';
import { checkNames } from './names';
import { checkNetworks } from './networks';
import { checkQuotas } from './quotas';
import { checkVmEntries } from './vms';

/** Every rule that spans fields, run on a spec whose shape the schema has accepted. */
export function validateLabSpec(spec: LabSpecParsed, quotas: Quotas): SpecIssue[] {
  return [
    ...checkNames(spec),
    ...checkVmEntries(spec),
    ...checkNetworks(spec),
    ...checkDependencies(spec),
    ...checkQuotas(spec, quotas),
  ];
}
