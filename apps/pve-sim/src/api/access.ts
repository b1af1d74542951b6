/** `/access/ticket`, `/access/domains`, `/access/permissions`, `/access/password`. */
import { checkCredentials, createCsrfToken, createTicket, toUserid } from '../auth';
import { ApiError, ParameterError } from '../errors';
import { isRoot, privilegesOn } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { p } from '../validate';

/** The `cap` object of a ticket answer: privileges per top-level area (1 = held). */
function capabilities(ctx: HandlerContext, userid: string) {
  const who = { userid };
  const area = (path: string, prefix: string[]) =>
    Object.fromEntries(
      [...privilegesOn(ctx.sim.state, who, path)]
        .filter((pr) => prefix.some((x) => pr.startsWith(x)))
        .map((pr) => [pr, 1]),
    );
  return {
    vms: area('/vms', ['VM.']),
    storage: area('/storage', ['Datastore.']),
    access: area('/access', ['User.', 'Group.', 'Permissions.']),
    nodes: area('/nodes', ['Sys.']),
    sdn: area('/sdn', ['SDN.']),
    dc: area('/', ['Sys.Audit', 'SDN.']),
    mapping: area('/mapping', ['Mapping.']),
  };
}

function createTicketAnswer(ctx: HandlerContext) {
  const { sim, params } = ctx;
  const userid = toUserid(params.username!, params.realm);
  if (!checkCredentials(sim.state, sim.ticketKey, userid, params.password!))
    throw new ApiError(401, 'authentication failure');
  if (params.path !== undefined) {
    const held = privilegesOn(sim.state, { userid }, params.path);
    const wanted = (params.privs ?? '').split(/[,\s]+/).filter(Boolean);
    if (!wanted.every((priv) => held.has(priv))) throw new ApiError(401, 'authentication failure');
    return { username: userid };
  }
  return {
    username: userid,
    ticket: createTicket(sim.ticketKey, userid),
    CSRFPreventionToken: createCsrfToken(sim.ticketKey, userid),
    cap: capabilities(ctx, userid),
  };
}

function effectivePermissions({ sim, params, who }: HandlerContext) {
  const target = params.userid
    ? params.userid.includes('!')
      ? splitToken(params.userid)
      : { userid: params.userid }
    : who;
  if (params.userid && !isRoot(who) && target.userid !== who.userid) {
    throw new ApiError(403, 'Permission check failed');
  }
  const paths = params.path
    ? [params.path]
    : ['/', '/access', '/nodes', '/storage', '/vms', '/sdn', '/pool', ...new Set(sim.state.acl.map((e) => e.path))];
  return Object.fromEntries(
    [...new Set(paths)].map((path) => [
      path,
      Object.fromEntries([...privilegesOn(sim.state, target, path)].map((priv) => [priv, 1])),
    ]),
  );
}

function splitToken(full: string) {
  const [userid, tokenid] = full.split('!') as [string, string];
  return { userid, tokenid };
}

function changePassword({ sim, params, who }: HandlerContext) {
  const user = sim.state.users[params.userid!];
  if (!user) throw new ParameterError({ userid: `no such user ('${params.userid}')` });
  if (!isRoot(who) && who.userid !== params.userid) throw new ApiError(403, 'Permission check failed');
  user.password = params.password!;
  return null;
}

export const accessRoutes: Route[] = [
  {
    method: 'GET',
    path: '/access/domains',
    params: {},
    public: true,
    handler: () => [
      { realm: 'pam', type: 'pam', comment: 'Linux PAM standard authentication' },
      { realm: 'pve', type: 'pve', comment: 'Proxmox VE authentication server' },
    ],
  },
  {
    method: 'POST',
    path: '/access/ticket',
    params: {
      username: { type: 'string', maxLength: 64 },
      password: p.reqStr,
      realm: p.str,
      otp: p.str,
      path: p.str,
      privs: p.str,
      'new-format': p.bool,
      'tfa-challenge': p.str,
    },
    public: true,
    denyToken: true,
    handler: createTicketAnswer,
  },
  { method: 'GET', path: '/access/ticket', params: {}, public: true, handler: () => null },
  { method: 'GET', path: '/access/permissions', params: { path: p.str, userid: p.str }, handler: effectivePermissions },
  {
    method: 'PUT',
    path: '/access/password',
    params: { userid: p.reqStr, password: { type: 'string', maxLength: 64 }, 'confirmation-password': p.str },
    denyToken: true,
    handler: changePassword,
  },
];
