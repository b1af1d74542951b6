/** Rules about individual VMs: desired (Postgres) against observed (Proxmox). Pure functions. */

import { LAB_SERVING, type LabStatus } from '@glassdome/lab';
import type { DesiredState, DesiredVm } from './desired';
import { dedupKeyOf, type Finding } from './findings';
import type { Inventory } from './inventory';
import type { ReconcileOptions } from './reconcile-options';

/** The tag the installer puts on every VM it creates. */
export const GLASSDOME_TAG = 'glassdome';

/** Lab statuses in which a missing VM is worth re-creating. */

function vmFinding(options: ReconcileOptions, vm: DesiredVm, kind: string, message: string): Finding {
  const subject = `vm/${vm.id}`;
  return {
    kind,
    severity: 'warning',
    dedupKey: dedupKeyOf(options.platformId, kind, subject),
    subject,
    message,
    data: { platformId: options.platformId, vmId: vm.id, labId: vm.labId, vmid: vm.vmid, node: vm.node, name: vm.name },
  };
}

/** A VM whose deploy finished and that should be running. */
function shouldRun(vm: DesiredVm): vm is DesiredVm & { vmid: number } {
  return vm.status === 'ready' && vm.desiredState === 'running' && vm.vmid !== null;
}

function checkVm(vm: DesiredVm & { vmid: number }, observed: Inventory, options: ReconcileOptions): Finding[] {
  const target = { vmId: vm.id, vmid: vm.vmid, node: vm.node, ...(vm.labId ? { labId: vm.labId } : {}) };
  const seen = observed.vms.get(vm.vmid);
  if (!seen) {
    const finding = vmFinding(options, vm, 'vm-missing', `VM ${vm.name} (${vm.vmid}) no longer exists on Proxmox`);
    finding.severity = 'critical';
    if (vm.labId && LAB_SERVING.has(vm.labStatus as LabStatus))
      finding.remediation = { action: 'reclone-vm', ...target };
    return [finding];
  }
  // A VM on an offline node shows `unknown`: the node's own alert covers it.
  if (seen.status === 'unknown') return [];
  if (seen.status !== 'running') {
    const finding = vmFinding(options, vm, 'vm-stopped', `VM ${vm.name} (${vm.vmid}) is ${seen.status}, should run`);
    return [{ ...finding, remediation: { action: 'start-vm', ...target } }];
  }
  if (!vm.ip && seen.uptimeSeconds > options.noIpAfterSeconds) {
    const message = `VM ${vm.name} (${vm.vmid}) has no IP ${seen.uptimeSeconds} s after boot`;
    return [{ ...vmFinding(options, vm, 'vm-no-ip', message), remediation: { action: 'rewait-agent', ...target } }];
  }
  if (options.sshUnreachable.has(vm.id)) {
    const message = `VM ${vm.name} (${vm.vmid}) is running but its SSH at ${vm.ip} does not answer`;
    return [{ ...vmFinding(options, vm, 'vm-ssh-dead', message), remediation: { action: 'reboot-vm', ...target } }];
  }
  return [];
}

/** VMs that should run: stopped, missing, without an IP long after boot, or with dead SSH. */
export function reconcileVms(desired: DesiredState, observed: Inventory, options: ReconcileOptions): Finding[] {
  return desired.vms.filter(shouldRun).flatMap((vm) => checkVm(vm, observed, options));
}

/** Glassdome-tagged VMs (not templates) whose VMID no live VM record claims. */
export function findOrphans(desired: DesiredState, observed: Inventory, options: ReconcileOptions): Finding[] {
  const owned = new Set(desired.vms.flatMap((vm) => (vm.vmid === null ? [] : [vm.vmid])));
  const findings: Finding[] = [];
  for (const vm of observed.vms.values()) {
    if (vm.template || owned.has(vm.vmid) || !vm.tags.includes(GLASSDOME_TAG)) continue;
    // A clone in progress is tagged before its record learns the VMID.
    if (vm.lock === 'clone' || vm.lock === 'create') continue;
    const subject = `vmid/${vm.vmid}`;
    findings.push({
      kind: 'orphan-vm',
      severity: 'warning',
      dedupKey: dedupKeyOf(options.platformId, 'orphan-vm', subject),
      subject,
      message: `VM ${vm.name} (${vm.vmid}) on ${vm.node} carries the ${GLASSDOME_TAG} tag but no lab or VM record owns it`,
      data: { platformId: options.platformId, vmid: vm.vmid, node: vm.node, name: vm.name },
      remediation: { action: 'destroy-orphan', vmid: vm.vmid, node: vm.node },
    });
  }
  return findings;
}
