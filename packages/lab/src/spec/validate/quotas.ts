import { durationSeconds, formatDuration } from '../duration';
import type { SpecIssue } from '../issues';
import type { LabSpecParsed } from '../lab-schema';
import type { Quotas } from '../quotas';
import { labTotals } from '../totals';

/** The deployment as a whole must fit the configured quotas. */
export function checkQuotas(spec: LabSpecParsed, quotas: Quotas): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (spec.copies > quotas.maxCopies) {
    issues.push({ path: ['copies'], message: `exceeds the quota of ${quotas.maxCopies} copies` });
  }
  const ttl = durationSeconds(spec.ttl);
  if (ttl !== undefined && ttl > quotas.maxTtlSeconds) {
    issues.push({ path: ['ttl'], message: `exceeds the longest allowed ttl, ${formatDuration(quotas.maxTtlSeconds)}` });
  }
  const totals = labTotals(spec);
  const copies = spec.copies > 1 ? ` over ${spec.copies} copies` : '';
  const limits = [
    [totals.vms, quotas.maxVms, 'VMs'],
    [totals.cpus, quotas.maxCpus, 'vCPUs'],
    [totals.memoryMiB, quotas.maxMemoryMiB, 'MiB of memory'],
  ] as const;
  for (const [total, limit, what] of limits) {
    if (total > limit) {
      issues.push({
        path: ['vms'],
        message: `the lab needs ${total} ${what}${copies}, more than the quota of ${limit}`,
      });
    }
  }
  return issues;
}
