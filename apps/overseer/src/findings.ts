import type { JsonValue } from '@glassdome/db';
import type { RemediationAction } from './env';

export type Severity = 'info' | 'warning' | 'critical';

/** What a remediation job needs to find its target again (ids only, never secrets). */
export interface RemediationTarget {
  action: RemediationAction;
  vmId?: string;
  labId?: string;
  vmid?: number;
  node?: string;
  /** An SDN VNet id (delete-vnet). */
  vnet?: string;
  /** A named network whose lease outlived it (release-network). */
  networkId?: string;
}

/** One condition reconciliation found; it becomes (or keeps open) the alert with the same `dedupKey`. */
export interface Finding {
  kind: string;
  severity: Severity;
  /** `<platform>:<kind>:<subject>`: stable for as long as the condition lasts. */
  dedupKey: string;
  /** What it is about, e.g. `vm/<uuid>`, `node/pve01`. */
  subject: string;
  message: string;
  data: { [key: string]: JsonValue };
  /** The repair to attempt, when there is one. */
  remediation?: RemediationTarget;
}

export function dedupKeyOf(platformId: string, kind: string, subject: string): string {
  return `${platformId}:${kind}:${subject}`;
}

/** The alert raised instead of retrying when a remediation's circuit breaker is open. */
export function breakerKeyOf(findingKey: string): string {
  return `${findingKey}#breaker`;
}
