/** `/access/users` (and their API tokens) and `/access/groups`. */
import { fail, ParameterError, PermissionError } from '../errors';
import { hasAnyPrivilege, isRoot, requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import type { User } from '../state/types';
import { flag, p } from '../validate';
import { mayListGroup } from './directories';

const userid = { type: 'string', format: 'pve-userid', maxLength: 64 } as const;
const tokenName = { type: 'string', maxLength: 64 } as const;

function requireUser({ sim }: HandlerContext, id: string): User {
  const user = sim.state.users[id];
  if (!user) fail(`no such user ('${id}')`);
  return user;
}

/** Managing users needs User.Modify on /access/groups (root always may). */
function requireUserAdmin({ sim, who }: HandlerContext) {
  if (!isRoot(who)) requirePrivileges(sim.state, who, '/access/groups', ['User.Modify']);
}

/** A user may manage its own tokens; others need User.Modify. */
function requireTokenAdmin(ctx: HandlerContext, owner: string) {
  if (ctx.who.userid !== owner || ctx.who.tokenid) requireUserAdmin(ctx);
}

const userAuditPrivs = ['User.Modify', 'Sys.Audit'];

/**
 * Whether the caller may read `user` (PVE's `userid-group` check): User.Modify or Sys.Audit on
 * /access/groups, or on a group the user is a member of.
 */
function mayReadUser({ sim, who }: HandlerContext, user: User): boolean {
  if (hasAnyPrivilege(sim.state, who, '/access/groups', userAuditPrivs)) return true;
  return user.groups.some((g) => hasAnyPrivilege(sim.state, who, `/access/groups/${g}`, userAuditPrivs));
}

/**
 * The user list holds the users the caller may read plus the caller itself. For an API token the
 * caller is the token (`user@realm!name`), not its user, so a token sees its own user only if granted.
 */
function listUsers(ctx: HandlerContext) {
  const { sim, who, params } = ctx;
  return Object.values(sim.state.users)
    .filter((u) => (u.userid === who.userid && !who.tokenid) || mayReadUser(ctx, u))
    .filter((u) => params.enabled === undefined || String(u.enable) === params.enabled)
    .sort((a, b) => (a.userid < b.userid ? -1 : a.userid > b.userid ? 1 : 0))
    .map((u) => userItem(u, params.full === '1'));
}

function readUser(ctx: HandlerContext) {
  const user = requireUser(ctx, ctx.params.userid!);
  if (!mayReadUser(ctx, user)) throw new PermissionError();
  return userItem(user, true);
}

function userItem(user: User, full: boolean) {
  const item: Record<string, unknown> = {
    userid: user.userid,
    enable: user.enable,
    expire: user.expire,
    'realm-type': user.userid.split('@')[1],
  };
  for (const key of ['comment', 'email', 'firstname', 'lastname'] as const) if (user[key]) item[key] = user[key];
  if (full) {
    item.groups = user.groups.join(',');
    item.tokens = Object.entries(user.tokens).map(([tokenid, t]) => tokenItem(tokenid, t));
  }
  return item;
}

function tokenItem(tokenid: string, t: User['tokens'][string]) {
  return { tokenid, privsep: t.privsep, expire: t.expire, ...(t.comment ? { comment: t.comment } : {}) };
}

function createUser(ctx: HandlerContext) {
  const { sim, params } = ctx;
  requireUserAdmin(ctx);
  const id = params.userid!;
  if (sim.state.users[id]) fail(`create user failed: user '${id}' already exists`);
  const user: User = {
    userid: id,
    enable: flag(params.enable, true) ? 1 : 0,
    expire: Number(params.expire ?? 0),
    groups: (params.groups ?? '').split(',').filter(Boolean),
    tokens: {},
  };
  for (const key of ['comment', 'email', 'firstname', 'lastname', 'password'] as const)
    if (params[key]) user[key] = params[key];
  sim.state.users[id] = user;
  return null;
}

function updateUser(ctx: HandlerContext) {
  requireUserAdmin(ctx);
  const user = requireUser(ctx, ctx.params.userid!);
  const { params } = ctx;
  if (params.enable !== undefined) user.enable = params.enable === '1' ? 1 : 0;
  if (params.expire !== undefined) user.expire = Number(params.expire);
  if (params.groups !== undefined) {
    const groups = params.groups.split(',').filter(Boolean);
    user.groups = params.append === '1' ? [...new Set([...user.groups, ...groups])] : groups;
  }
  for (const key of ['comment', 'email', 'firstname', 'lastname'] as const)
    if (params[key] !== undefined) user[key] = params[key];
  return null;
}

function deleteUser(ctx: HandlerContext) {
  requireUserAdmin(ctx);
  requireUser(ctx, ctx.params.userid!);
  const id = ctx.params.userid!;
  delete ctx.sim.state.users[id];
  ctx.sim.state.acl = ctx.sim.state.acl.filter((e) => e.ugid !== id && !e.ugid.startsWith(`${id}!`));
  return null;
}

function createToken(ctx: HandlerContext) {
  const { params } = ctx;
  requireTokenAdmin(ctx, params.userid!);
  const user = requireUser(ctx, params.userid!);
  const name = params.tokenid!;
  if (!/^[A-Za-z][A-Za-z0-9.\-_]+$/.test(name))
    throw new ParameterError({ tokenid: 'invalid format - invalid API token ID\n' });
  if (user.tokens[name]) throw new ParameterError({ tokenid: 'Token already exists.' });
  const privsep = flag(params.privsep, true) ? 1 : 0;
  const secret = crypto.randomUUID();
  user.tokens[name] = {
    privsep,
    expire: Number(params.expire ?? 0),
    secret,
    ...(params.comment ? { comment: params.comment } : {}),
  };
  return { 'full-tokenid': `${user.userid}!${name}`, info: { privsep: String(privsep) }, value: secret };
}

function updateToken(ctx: HandlerContext) {
  const { params } = ctx;
  requireTokenAdmin(ctx, params.userid!);
  const token = requireUser(ctx, params.userid!).tokens[params.tokenid!];
  if (!token) fail(`no such token '${params.tokenid}' for user '${params.userid}'`);
  if (params.privsep !== undefined) token.privsep = params.privsep === '1' ? 1 : 0;
  if (params.expire !== undefined) token.expire = Number(params.expire);
  if (params.comment !== undefined) token.comment = params.comment;
  return tokenItem(params.tokenid!, token);
}

function deleteToken(ctx: HandlerContext) {
  const { sim, params } = ctx;
  requireTokenAdmin(ctx, params.userid!);
  const user = requireUser(ctx, params.userid!);
  if (!user.tokens[params.tokenid!]) fail(`no such token '${params.tokenid}' for user '${params.userid}'`);
  delete user.tokens[params.tokenid!];
  const full = `${params.userid}!${params.tokenid}`;
  sim.state.acl = sim.state.acl.filter((e) => !(e.type === 'token' && e.ugid === full));
  return null;
}

const userFields = {
  comment: p.str,
  email: p.str,
  firstname: p.str,
  lastname: p.str,
  enable: p.bool,
  expire: p.int,
  groups: p.str,
  keys: p.str,
};

export const userRoutes: Route[] = [
  {
    method: 'GET',
    path: '/access/users',
    params: { enabled: p.bool, full: p.bool },
    handler: listUsers,
  },
  { method: 'POST', path: '/access/users', params: { userid, password: p.str, ...userFields }, handler: createUser },
  {
    method: 'GET',
    path: '/access/users/{userid}',
    params: { userid },
    handler: readUser,
  },
  {
    method: 'PUT',
    path: '/access/users/{userid}',
    params: { userid, append: p.bool, ...userFields },
    handler: updateUser,
  },
  { method: 'DELETE', path: '/access/users/{userid}', params: { userid }, handler: deleteUser },
  {
    method: 'GET',
    path: '/access/users/{userid}/token',
    params: { userid },
    handler: (ctx) => Object.entries(requireUser(ctx, ctx.params.userid!).tokens).map(([id, t]) => tokenItem(id, t)),
  },
  {
    method: 'GET',
    path: '/access/users/{userid}/token/{tokenid}',
    params: { userid, tokenid: tokenName },
    handler: (ctx) => {
      const token = requireUser(ctx, ctx.params.userid!).tokens[ctx.params.tokenid!];
      if (!token) fail(`no such token '${ctx.params.tokenid}' for user '${ctx.params.userid}'`);
      return tokenItem(ctx.params.tokenid!, token);
    },
  },
  {
    method: 'POST',
    path: '/access/users/{userid}/token/{tokenid}',
    params: { userid, tokenid: tokenName, privsep: p.bool, expire: p.int, comment: p.str },
    handler: createToken,
  },
  {
    method: 'PUT',
    path: '/access/users/{userid}/token/{tokenid}',
    params: { userid, tokenid: tokenName, privsep: p.bool, expire: p.int, comment: p.str },
    handler: updateToken,
  },
  {
    method: 'DELETE',
    path: '/access/users/{userid}/token/{tokenid}',
    params: { userid, tokenid: tokenName },
    handler: deleteToken,
  },
  {
    method: 'GET',
    path: '/access/groups',
    params: {},
    handler: (ctx) =>
      Object.entries(ctx.sim.state.groups)
        .filter(([groupid]) => mayListGroup(ctx, groupid))
        .map(([groupid, g]) => ({
          groupid,
          ...(g.comment ? { comment: g.comment } : {}),
          users: Object.values(ctx.sim.state.users)
            .filter((u) => u.groups.includes(groupid))
            .map((u) => u.userid)
            .join(','),
        })),
  },
  {
    method: 'POST',
    path: '/access/groups',
    params: { groupid: p.reqStr, comment: p.str },
    handler: (ctx) => {
      requireUserAdmin(ctx);
      if (ctx.sim.state.groups[ctx.params.groupid!])
        fail(`create group failed: group '${ctx.params.groupid}' already exists`);
      ctx.sim.state.groups[ctx.params.groupid!] = ctx.params.comment ? { comment: ctx.params.comment } : {};
      return null;
    },
  },
];
