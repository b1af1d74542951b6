/** Rules about the cluster, templates, labs and deploys. Pure functions. */
import type { DesiredState } from './desired';
import { dedupKeyOf, type Finding, type Severity } from './findings';
import type { Inventory } from './inventory';
import type { ReconcileOptions } from './reconcile-options';

function finding(
  options: ReconcileOptions,
  kind: string,
  severity: Severity,
  subject: string,
  message: string,
  data: Finding['data'],
): Finding {
  return {
    kind,
    severity,
    dedupKey: dedupKeyOf(options.platformId, kind, subject),
    subject,
    message,
    data: { platformId: options.platformId, ...data },
  };
}

export function findOfflineNodes(observed: Inventory, options: ReconcileOptions): Finding[] {
  return observed.nodes
    .filter((node) => !node.online)
    .map((node) =>
      finding(options, 'node-offline', 'critical', `node/${node.node}`, `node ${node.node} is offline`, {
        node: node.node,
      }),
    );
}

export function findFullStorages(observed: Inventory, options: ReconcileOptions): Finding[] {
  return observed.storages
    .filter((storage) => storage.totalBytes > 0 && storage.usedBytes / storage.totalBytes > options.storageThreshold)
    .map((storage) => {
      const used = storage.usedBytes / storage.totalBytes;
      const percent = Math.round(used * 100);
      return finding(
        options,
        'storage-full',
        used > 0.95 ? 'critical' : 'warning',
        `storage/${storage.node}/${storage.storage}`,
        `storage ${storage.storage} on ${storage.node} is ${percent}% full (threshold ${Math.round(options.storageThreshold * 100)}%)`,
        { node: storage.node, storage: storage.storage, usedBytes: storage.usedBytes, totalBytes: storage.totalBytes },
      );
    });
}

/** Templates Glassdome built that vanished, stopped being templates, or were edited since. */
export function findTemplateDrift(desired: DesiredState, observed: Inventory, options: ReconcileOptions): Finding[] {
  const findings: Finding[] = [];
  for (const template of desired.templates) {
    const seen = observed.vms.get(template.vmid);
    // On an offline node the listing hides what a VM is (`unknown`): the node's alert covers it.
    if (seen?.status === 'unknown') continue;
    const subject = `template/${template.id}`;
    const data = { templateId: template.id, vmid: template.vmid, node: template.node, os: template.os };
    if (!seen?.template) {
      const what = seen ? 'is no longer a template' : 'is missing';
      findings.push(
        finding(
          options,
          'template-missing',
          'critical',
          subject,
          `template ${template.name} (${template.vmid}) ${what}`,
          data,
        ),
      );
      continue;
    }
    const digest = options.templateDigests.get(template.vmid);
    if (template.configDigest && digest && digest !== template.configDigest) {
      findings.push(
        finding(
          options,
          'template-changed',
          'warning',
          subject,
          `template ${template.name} (${template.vmid}) was changed since it was built`,
          data,
        ),
      );
    }
  }
  return findings;
}

export function findExpiredLabs(desired: DesiredState, options: ReconcileOptions): Finding[] {
  return desired.labs
    .filter((lab) => lab.expiresAt !== null && lab.expiresAt.getTime() <= options.now.getTime())
    .map((lab) => ({
      ...finding(options, 'lab-expired', 'warning', `lab/${lab.id}`, `lab ${lab.name} is past its TTL`, {
        labId: lab.id,
        expiresAt: lab.expiresAt!.toISOString(),
      }),
      remediation: { action: 'expire-lab', labId: lab.id },
    }));
}

export function findStuckSteps(desired: DesiredState, options: ReconcileOptions): Finding[] {
  return desired.runningSteps
    .filter((step) => options.now.getTime() - step.startedAt.getTime() > options.stepBoundSeconds * 1000)
    .map((step) => {
      const owner = step.vmId ? `vm/${step.vmId}` : `lab/${step.labId}`;
      const seconds = Math.round((options.now.getTime() - step.startedAt.getTime()) / 1000);
      return finding(
        options,
        'deploy-stuck',
        'warning',
        `${owner}/step/${step.name}`,
        `step ${step.name} of ${owner} has been running for ${seconds} s (bound ${options.stepBoundSeconds} s)`,
        { vmId: step.vmId, labId: step.labId, step: step.name, startedAt: step.startedAt.toISOString() },
      );
    });
}
