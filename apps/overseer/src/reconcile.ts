/**
 * Reconciliation: desired state (Postgres) against observed state (one inventory scan) → findings.
 * Pure: everything it needs is passed in, so every rule is unit-tested without Proxmox or Postgres.
 */
import type { DesiredState } from './desired';
import type { Finding } from './findings';
import type { Inventory } from './inventory';
import {
  findExpiredLabs,
  findFullStorages,
  findOfflineNodes,
  findStuckSteps,
  findTemplateDrift,
} from './reconcile-cluster';
import type { ReconcileOptions } from './reconcile-options';
import { findOrphans, reconcileVms } from './reconcile-vms';

export type { ReconcileOptions };

export function reconcile(desired: DesiredState, observed: Inventory, options: ReconcileOptions): Finding[] {
  return [
    ...findOfflineNodes(observed, options),
    ...findFullStorages(observed, options),
    ...reconcileVms(desired, observed, options),
    ...findOrphans(desired, observed, options),
    ...findTemplateDrift(desired, observed, options),
    ...findExpiredLabs(desired, options),
    ...findStuckSteps(desired, options),
  ];
}
