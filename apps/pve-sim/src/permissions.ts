/**
 * Real permission checks: ACLs evaluated along the path from `/` down, where entries on a deeper
 * path replace what was inherited, user entries win over group entries at the same level, and
 * `propagate: 0` entries apply only to their own path. A privilege-separated token gets the
 * intersection of its own and its user's privileges. (pve-access-control, restated.)
 */
import { PermissionError } from './errors';
import { allPrivileges } from './state/roles';
import type { AclEntry, ClusterState, Vm } from './state/types';
import type { Identity } from './tasks';

export const isRoot = (who: Identity) => who.userid === 'root@pam' && !who.tokenid;

function rolesAt(acl: AclEntry[], path: string, type: AclEntry['type'], ugids: string[]): Map<string, number> {
  let roles = new Map<string, number>();
  const parts = path.split('/').filter(Boolean);
  const prefixes = ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
  for (const prefix of prefixes) {
    const final = prefix === prefixes[prefixes.length - 1];
    const here = acl.filter(
      (e) => e.path === prefix && e.type === type && ugids.includes(e.ugid) && (e.propagate === 1 || final),
    );
    if (here.length > 0) roles = new Map(here.map((e) => [e.roleid, e.propagate]));
  }
  return roles;
}

function privilegesOfRoles(state: ClusterState, roles: Map<string, number>): Set<string> {
  if (roles.has('NoAccess')) return new Set();
  const privs = new Set<string>();
  for (const roleid of roles.keys()) for (const p of state.roles[roleid]?.privs ?? []) privs.add(p);
  return privs;
}

function userPrivileges(state: ClusterState, userid: string, path: string): Set<string> {
  if (userid === 'root@pam') return new Set(allPrivileges);
  const user = state.users[userid];
  if (user?.enable !== 1) return new Set();
  const own = rolesAt(state.acl, path, 'user', [userid]);
  if (own.size > 0) return privilegesOfRoles(state, own);
  return privilegesOfRoles(state, rolesAt(state.acl, path, 'group', user.groups));
}

/** Effective privileges of a user or token on one ACL path. */
export function privilegesOn(state: ClusterState, who: Identity, path: string): Set<string> {
  const ofUser = userPrivileges(state, who.userid, path);
  if (!who.tokenid) return ofUser;
  const token = state.users[who.userid]?.tokens[who.tokenid];
  if (!token) return new Set();
  if (token.privsep === 0) return ofUser;
  const ofToken = privilegesOfRoles(state, rolesAt(state.acl, path, 'token', [`${who.userid}!${who.tokenid}`]));
  return new Set([...ofToken].filter((p) => ofUser.has(p)));
}

/** Privileges on a VM: its own path plus, if it is in a pool, the pool's path. */
export function vmPrivileges(state: ClusterState, who: Identity, vmid: number): Set<string> {
  const privs = privilegesOn(state, who, `/vms/${vmid}`);
  const pool = state.vms[vmid]?.pool;
  if (pool) for (const p of privilegesOn(state, who, `/pool/${pool}`)) privs.add(p);
  return privs;
}

/**
 * A checker for many VMs at once (list filtering): VMs without their own ACL entries and outside
 * pools share the privileges of `/vms`, computed once.
 */
export function vmPrivilegeChecker(
  state: ClusterState,
  who: Identity,
  privs: string[],
): (vm: Pick<Vm, 'vmid' | 'pool'>) => boolean {
  // VMIDs with ACL entries of their own, as numbers: a 10,000-VM list checks each VM without
  // building its path.
  const ownVmids = new Set(
    state.acl.filter((e) => /^\/vms\/\d+$/.test(e.path)).map((e) => Number(e.path.slice('/vms/'.length))),
  );
  const shared = privs.some((p) => privilegesOn(state, who, '/vms').has(p));
  // Given the VM itself: a list reads its pool from the row in hand, not by a lookup among 10,000.
  return ({ vmid, pool }) => {
    if (!ownVmids.has(vmid) && !pool) return shared;
    const held = vmPrivileges(state, who, vmid);
    return privs.some((p) => held.has(p));
  };
}

/** Throws 403 unless `who` holds every one of `privs` (or, with `any`, at least one) on `path`. */
export function requirePrivileges(
  state: ClusterState,
  who: Identity,
  path: string,
  privs: string[],
  options: { any?: boolean } = {},
): void {
  const held = path.startsWith('/vms/')
    ? vmPrivileges(state, who, Number(path.slice(5)))
    : privilegesOn(state, who, path);
  const ok = options.any ? privs.some((p) => held.has(p)) : privs.every((p) => held.has(p));
  if (ok) return;
  const missing = options.any ? privs : privs.filter((p) => !held.has(p));
  throw new PermissionError(path, options.any ? missing : missing.slice(0, 1));
}

/** Whether `who` holds at least one of `privs` on `path` (for list filtering). */
export function hasAnyPrivilege(state: ClusterState, who: Identity, path: string, privs: string[]): boolean {
  const held = path.startsWith('/vms/')
    ? vmPrivileges(state, who, Number(path.slice(5)))
    : privilegesOn(state, who, path);
  return privs.some((p) => held.has(p));
}
