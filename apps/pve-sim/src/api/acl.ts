/** `/access/acl` and `/access/roles`. */
import { ApiError, fail, ParameterError } from '../errors';
import { isRoot, requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { allPrivileges } from '../state/roles';
import type { AclEntry } from '../state/types';
import { flag, p } from '../validate';

const validAclPath =
  /^\/(access(\/(groups|realm)(\/[^/]+)?)?|nodes(\/[^/]+)?|pool(\/[^/]+)*|sdn(\/(zones(\/[^/]+){0,3}|controllers|ipams|dns)(\/[^/]+)?)?|storage(\/[^/]+)?|vms(\/[1-9]\d{2,8})?|mapping(\/[^/]+)*)?$/;

const list = (value: string | undefined) => (value ?? '').split(/[,;\s\0]+/).filter(Boolean);

/** Changing an ACL needs Permissions.Modify on its path (root always may). */
function requireAclAdmin({ sim, who }: HandlerContext, path: string) {
  if (!isRoot(who)) requirePrivileges(sim.state, who, path, ['Permissions.Modify']);
}

function updateAcl(ctx: HandlerContext) {
  const { sim, params } = ctx;
  const path = params.path!;
  const users = list(params.users);
  const groups = list(params.groups);
  const tokens = list(params.tokens);
  if (users.length + groups.length + tokens.length === 0) {
    const message = "either 'users', 'groups' or 'tokens' is required.";
    throw new ParameterError({ users: message, groups: message, tokens: message });
  }
  if (!validAclPath.test(path)) throw new ParameterError({ path: `invalid ACL path '${path}'` });
  requireAclAdmin(ctx, path);
  const roles = list(params.roles);
  for (const role of roles) if (!sim.state.roles[role]) fail(`ACL update failed: role '${role}' does not exist`);
  for (const user of users) if (!sim.state.users[user]) fail(`ACL update failed: user '${user}' does not exist`);
  for (const group of groups) if (!sim.state.groups[group]) fail(`ACL update failed: group '${group}' does not exist`);
  for (const token of tokens) {
    const [userid, name] = token.split('!') as [string, string | undefined];
    if (!name || !sim.state.users[userid]?.tokens[name])
      fail(`ACL update failed: no such token '${name ?? ''}' for user '${userid}'`);
  }
  const subjects: Array<[AclEntry['type'], string]> = [
    ...users.map((u): [AclEntry['type'], string] => ['user', u]),
    ...groups.map((g): [AclEntry['type'], string] => ['group', g]),
    ...tokens.map((t): [AclEntry['type'], string] => ['token', t]),
  ];
  const propagate = flag(params.propagate, true) ? 1 : 0;
  for (const [type, ugid] of subjects) {
    for (const roleid of roles) {
      sim.state.acl = sim.state.acl.filter(
        (e) => !(e.path === path && e.type === type && e.ugid === ugid && e.roleid === roleid),
      );
      if (!flag(params.delete)) sim.state.acl.push({ path, type, ugid, roleid, propagate });
    }
  }
  return null;
}

function checkPrivs(privs: string[], verb: string) {
  for (const priv of privs) if (!allPrivileges.includes(priv)) fail(`${verb} role failed: invalid privilege '${priv}'`);
}

function createRole(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  if (!isRoot(who)) requirePrivileges(sim.state, who, '/access', ['Sys.Modify']);
  const id = params.roleid!;
  if (id.startsWith('PVE')) throw new ParameterError({ roleid: "cannot use role ID starting with 'PVE'" });
  if (sim.state.roles[id]) fail(`create role failed: role '${id}' already exists`);
  const privs = list(params.privs);
  checkPrivs(privs, 'create');
  sim.state.roles[id] = { privs, special: 0 };
  return null;
}

function updateRole(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  if (!isRoot(who)) requirePrivileges(sim.state, who, '/access', ['Sys.Modify']);
  const role = sim.state.roles[params.roleid!];
  if (!role) fail(`role '${params.roleid}' does not exist`);
  if (role.special) throw new ApiError(400, `cannot modify built-in role '${params.roleid}'`);
  const privs = list(params.privs);
  checkPrivs(privs, 'update');
  role.privs = params.append === '1' ? [...new Set([...role.privs, ...privs])] : privs;
  return null;
}

function deleteRole(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  if (!isRoot(who)) requirePrivileges(sim.state, who, '/access', ['Sys.Modify']);
  const role = sim.state.roles[params.roleid!];
  if (!role) fail(`role '${params.roleid}' does not exist`);
  if (role.special) throw new ApiError(400, `cannot delete built-in role '${params.roleid}'`);
  delete sim.state.roles[params.roleid!];
  sim.state.acl = sim.state.acl.filter((e) => e.roleid !== params.roleid);
  return null;
}

export const aclRoutes: Route[] = [
  {
    method: 'GET',
    path: '/access/acl',
    params: {},
    handler: ({ sim, who }) =>
      sim.state.acl
        .filter((e) => isRoot(who) || e.ugid === who.userid || e.ugid.startsWith(`${who.userid}!`))
        .map((e) => ({ path: e.path, type: e.type, ugid: e.ugid, roleid: e.roleid, propagate: e.propagate })),
  },
  {
    method: 'PUT',
    path: '/access/acl',
    params: {
      path: p.reqStr,
      roles: p.reqStr,
      users: p.str,
      groups: p.str,
      tokens: p.str,
      propagate: p.bool,
      delete: p.bool,
    },
    handler: updateAcl,
  },
  {
    method: 'GET',
    path: '/access/roles',
    params: {},
    handler: ({ sim }) =>
      Object.entries(sim.state.roles).map(([roleid, r]) => ({ roleid, privs: r.privs.join(','), special: r.special })),
  },
  {
    method: 'POST',
    path: '/access/roles',
    params: { roleid: { type: 'string', format: 'pve-roleid' }, privs: p.str },
    handler: createRole,
  },
  {
    method: 'GET',
    path: '/access/roles/{roleid}',
    params: { roleid: p.reqStr },
    handler: ({ sim, params }) => {
      const role = sim.state.roles[params.roleid!];
      if (!role) fail(`role '${params.roleid}' does not exist`);
      return Object.fromEntries(role.privs.map((priv) => [priv, 1]));
    },
  },
  {
    method: 'PUT',
    path: '/access/roles/{roleid}',
    params: { roleid: p.reqStr, privs: p.str, append: p.bool },
    handler: updateRole,
  },
  { method: 'DELETE', path: '/access/roles/{roleid}', params: { roleid: p.reqStr }, handler: deleteRole },
];
