/**
 * What a Proxmox grant may contain: the one allowlist `POST /permissions`, the `permission.grant`
 * job schema (so a producer cannot enqueue it) and the gateway's handler (so a job written straight
 * into Redis cannot run it) all check. Nothing here administers Proxmox itself: no Permissions.*,
 * Sys.Modify, User.*, Realm.* or Sys.Console, and on `/` (which every path inherits) audit only.
 */

/** Privileges a grant may name at all: VM, storage and SDN use and audit. */
export const GRANTABLE_PRIVILEGES = [
  'VM.Allocate',
  'VM.Audit',
  'VM.Backup',
  'VM.Clone',
  'VM.Config.CDROM',
  'VM.Config.CPU',
  'VM.Config.Cloudinit',
  'VM.Config.Disk',
  'VM.Config.HWType',
  'VM.Config.Memory',
  'VM.Config.Network',
  'VM.Config.Options',
  'VM.Console',
  'VM.Migrate',
  'VM.Monitor',
  'VM.PowerMgmt',
  'VM.Snapshot',
  'VM.Snapshot.Rollback',
  'Datastore.Allocate',
  'Datastore.AllocateSpace',
  'Datastore.AllocateTemplate',
  'Datastore.Audit',
  'SDN.Audit',
  'SDN.Use',
  'Sys.Audit',
  'Pool.Audit',
  'Mapping.Audit',
  'Mapping.Use',
] as const;
export type GrantablePrivilege = (typeof GRANTABLE_PRIVILEGES)[number];

/** What may be granted on `/`: reading, never allocating (VM.Allocate or Datastore.Allocate there is near-root). */
export const ROOT_PRIVILEGES: readonly GrantablePrivilege[] = [
  'VM.Audit',
  'Datastore.Audit',
  'SDN.Audit',
  'Sys.Audit',
  'Pool.Audit',
  'Mapping.Audit',
];

/**
 * What permission repair (a 403 during a deploy) may ask for: cloning a registered template, using
 * the storage and SDN zone, and running the VMs Glassdome made. Never allocation rights.
 */
export const REPAIR_PRIVILEGES: readonly GrantablePrivilege[] = [
  'VM.Audit',
  'VM.Clone',
  'VM.Config.CDROM',
  'VM.Config.CPU',
  'VM.Config.Cloudinit',
  'VM.Config.Disk',
  'VM.Config.HWType',
  'VM.Config.Memory',
  'VM.Config.Network',
  'VM.Config.Options',
  'VM.Monitor',
  'VM.PowerMgmt',
  'Datastore.AllocateSpace',
  'Datastore.Audit',
  'SDN.Audit',
  'SDN.Use',
];

/** Privileges repair may ask for on a template: cloning it, and reading it (the overseer watches it). */
export const TEMPLATE_REPAIR_PRIVILEGES: readonly GrantablePrivilege[] = ['VM.Clone', 'VM.Audit'];

/** An ACL path: `/`, or `/segment[/segment…]` of letters, digits, `.`, `_` and `-`. */
export const ACL_PATH = /^\/([A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*)?$/;

/** user@realm or user@realm!token */
export const PVE_PRINCIPAL = /^[A-Za-z0-9._-]{1,64}@[A-Za-z0-9._-]{1,32}(![A-Za-z][A-Za-z0-9._-]{0,63})?$/;

export interface GrantRequest {
  principal: string;
  path: string;
  privileges: readonly string[];
}

/** Every reason the grant is refused under the general allowlist (`POST /permissions`); empty when allowed. */
export function grantProblems(grant: GrantRequest): string[] {
  const problems: string[] = [];
  if (!PVE_PRINCIPAL.test(grant.principal)) problems.push('principal must be user@realm or user@realm!token');
  if (!ACL_PATH.test(grant.path)) problems.push('path must be an ACL path such as /vms/100');
  const unknown = grant.privileges.filter((p) => !(GRANTABLE_PRIVILEGES as readonly string[]).includes(p));
  if (unknown.length > 0) problems.push(`privileges not on the allowlist: ${unknown.join(', ')}`);
  if (grant.path === '/') {
    const broad = grant.privileges.filter(
      (p) => !unknown.includes(p) && !(ROOT_PRIVILEGES as readonly string[]).includes(p),
    );
    if (broad.length > 0) problems.push(`on / only audit privileges may be granted, not ${broad.join(', ')}`);
  }
  return problems;
}

/** The paths repair may touch: one VM, one storage, or Glassdome's SDN zone (and its VNets). */
const REPAIR_PATH = /^\/(vms\/\d{1,9}|storage\/[A-Za-z0-9._-]+|sdn\/zones\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)?)$/;

/**
 * Every reason a repair grant is refused by its shape alone (the gateway also checks that a VM path
 * is a template Glassdome registered or a VM it owns); empty when allowed.
 */
export function repairProblems(grant: GrantRequest): string[] {
  const problems = grantProblems(grant);
  if (!REPAIR_PATH.test(grant.path))
    problems.push(`repair never grants on ${grant.path}: only /vms/<id>, /storage/<id> or /sdn/zones/<id>`);
  const outside = grant.privileges.filter((p) => !(REPAIR_PRIVILEGES as readonly string[]).includes(p));
  if (outside.length > 0) problems.push(`repair never grants ${outside.join(', ')}`);
  return problems;
}
