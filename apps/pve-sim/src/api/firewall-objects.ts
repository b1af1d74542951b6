/**
 * IPSets and aliases of the cluster (`/cluster/firewall/{ipset,aliases}`) and of a VM
 * (`/nodes/{node}/qemu/{vmid}/firewall/{ipset,aliases}`), with PVE's checks, digests and wording.
 * An IPSet entry's CIDR contains a slash, so its routes also accept it unencoded.
 */
import { fail, ParameterError } from '../errors';
import { ipVersionOf, normalizeCidr } from '../network/addresses';
import { firewallState, listDigest, vmFirewall, withDigest } from '../network/firewall-config';
import { isAliasReference } from '../network/firewall-specs';
import { requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import type { FirewallAlias, FirewallIpsetEntry, FirewallScope } from '../state/types';
import { type ParamSpecs, p } from '../validate';
import { checkParams, cidrChecks, digest, nameChecks } from './firewall-params';
import { requireNode } from './vm-access';

interface ObjectLevel {
  base: string;
  pathParams: ParamSpecs;
  audit(ctx: HandlerContext): void;
  modify(ctx: HandlerContext): void;
  scope(ctx: HandlerContext, create: boolean): FirewallScope;
  /** Aliases an IPSet entry may name: the level's own, then (for a VM) the cluster's. */
  aliasLookup(ctx: HandlerContext, name: string, prefix: string): FirewallAlias | undefined;
}

function assertDigest(current: string, given: string | undefined): void {
  if (given && given !== current) fail('detected modified configuration - file changed by other user? Try again.');
}

/** Entries are kept sorted by CIDR, as pve-firewall writes them. */
function sortEntries(entries: FirewallIpsetEntry[]): FirewallIpsetEntry[] {
  return [...entries].sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0));
}

function ipsetList(scope: FirewallScope) {
  return Object.keys(scope.ipsets)
    .sort()
    .map((name) => {
      const comment = scope.ipsets[name]!.comment;
      return comment ? { name, comment } : { name };
    });
}

function ipsetRoutes(level: ObjectLevel): Route[] {
  const named = { ...level.pathParams, name: p.reqStr };
  const entry = { ...named, cidr: p.reqStr };
  const set = (ctx: HandlerContext, create = false) => {
    checkParams(ctx.params, { name: nameChecks.ipset });
    const found = level.scope(ctx, create).ipsets[ctx.params.name!];
    if (!found) fail(`no such IPSet '${ctx.params.name}'`);
    return found;
  };
  // `{cidr}` may arrive as `10.0.0.0/24` unencoded: a second route takes the prefix length.
  const entryRoutes = (method: Route['method'], params: ParamSpecs, handler: Route['handler']): Route[] => [
    { method, path: `${level.base}/ipset/{name}/{cidr}`, params: { ...entry, ...params }, handler },
    {
      method,
      path: `${level.base}/ipset/{name}/{cidr}/{cidrlen}`,
      params: { ...entry, ...params, cidrlen: { type: 'integer', minimum: 0, maximum: 128 } },
      handler: (ctx) => {
        const { cidrlen, ...rest } = ctx.params;
        return handler({ ...ctx, params: { ...rest, cidr: `${ctx.params.cidr}/${cidrlen}` } });
      },
    },
  ];
  return [
    {
      method: 'GET',
      path: `${level.base}/ipset`,
      params: level.pathParams,
      handler: (ctx) => {
        level.audit(ctx);
        return withDigest(ipsetList(level.scope(ctx, false)));
      },
    },
    {
      method: 'POST',
      path: `${level.base}/ipset`,
      params: { ...named, comment: p.str, digest, rename: p.str },
      handler: (ctx) => {
        checkParams(ctx.params, { name: nameChecks.ipset, rename: nameChecks.ipset });
        level.modify(ctx);
        const scope = level.scope(ctx, true);
        const { name = '', rename, comment } = ctx.params;
        if (rename) {
          assertDigest(listDigest(ipsetList(scope)), ctx.params.digest);
          const existing = scope.ipsets[rename];
          if (!existing) throw new ParameterError({ name: `IPSet '${rename}' does not exist` });
          if (scope.ipsets[name] && name !== rename) {
            throw new ParameterError({ name: `IPSet '${name}' does already exist` });
          }
          delete scope.ipsets[rename];
          scope.ipsets[name] = comment === undefined ? existing : { ...existing, comment };
          return null;
        }
        if (scope.ipsets[name]) throw new ParameterError({ name: `IPSet '${name}' already exists` });
        scope.ipsets[name] = comment ? { comment, entries: [] } : { entries: [] };
        return null;
      },
    },
    {
      method: 'GET',
      path: `${level.base}/ipset/{name}`,
      params: named,
      handler: (ctx) => {
        level.audit(ctx);
        return withDigest(set(ctx).entries);
      },
    },
    {
      method: 'DELETE',
      path: `${level.base}/ipset/{name}`,
      params: { ...named, force: p.bool },
      handler: (ctx) => {
        level.modify(ctx);
        const found = set(ctx);
        if (found.entries.length > 0 && ctx.params.force !== '1') fail(`IPSet '${ctx.params.name}' is not empty`);
        delete level.scope(ctx, true).ipsets[ctx.params.name!];
        return null;
      },
    },
    {
      method: 'POST',
      path: `${level.base}/ipset/{name}`,
      params: { ...entry, nomatch: p.bool, comment: p.str },
      handler: (ctx) => {
        checkParams(ctx.params, { name: nameChecks.ipset, cidr: cidrChecks.cidrOrAlias });
        level.modify(ctx);
        const found = set(ctx, true);
        let cidr = ctx.params.cidr!;
        if (isAliasReference(cidr)) {
          const [, prefix = '', name = cidr] = /^(dc\/|guest\/)?(.+)$/.exec(cidr) ?? [];
          if (!level.aliasLookup(ctx, name, prefix)) fail(`no such alias '${name}'`);
        } else {
          cidr = normalizeCidr(cidr);
        }
        if (found.entries.some((existing) => existing.cidr === cidr)) {
          throw new ParameterError({ cidr: `address '${cidr}' already exists` });
        }
        if (/\/0+$/.test(cidr)) throw new ParameterError({ cidr: 'a zero prefix is not allowed in ipset entries' });
        const added: FirewallIpsetEntry = { cidr };
        if (ctx.params.nomatch === '1') added.nomatch = 1;
        if (ctx.params.comment) added.comment = ctx.params.comment;
        found.entries = sortEntries([added, ...found.entries]);
        return null;
      },
    },
    ...entryRoutes('GET', {}, (ctx) => {
      level.audit(ctx);
      const listed = withDigest(set(ctx).entries).find((item) => item.cidr === ctx.params.cidr);
      if (!listed) throw new ParameterError({ cidr: 'no such IP/Network' });
      return listed;
    }),
    ...entryRoutes('PUT', { nomatch: p.bool, comment: p.str, digest }, (ctx) => {
      level.modify(ctx);
      const found = set(ctx);
      assertDigest(listDigest(found.entries), ctx.params.digest);
      const index = found.entries.findIndex((item) => item.cidr === ctx.params.cidr);
      if (index < 0) throw new ParameterError({ cidr: 'no such IP/Network' });
      // Both fields are replaced: one left out is cleared, as PVE does.
      const updated: FirewallIpsetEntry = { cidr: found.entries[index]!.cidr };
      if (ctx.params.nomatch === '1') updated.nomatch = 1;
      if (ctx.params.comment) updated.comment = ctx.params.comment;
      found.entries[index] = updated;
      return null;
    }),
    ...entryRoutes('DELETE', { digest }, (ctx) => {
      level.modify(ctx);
      const found = set(ctx);
      assertDigest(listDigest(found.entries), ctx.params.digest);
      found.entries = found.entries.filter((item) => item.cidr !== ctx.params.cidr);
      return null;
    }),
  ];
}

function aliasList(scope: FirewallScope): FirewallAlias[] {
  return Object.keys(scope.aliases)
    .sort()
    .map((key) => scope.aliases[key]!);
}

function storedAlias(name: string, cidr: string, comment: string | undefined): FirewallAlias {
  const alias: FirewallAlias = {
    name,
    cidr: cidr.replace(ipVersionOf(cidr) === 6 ? /\/128$/ : /\/32$/, ''),
    ipversion: ipVersionOf(cidr) ?? 4,
  };
  if (comment) alias.comment = comment;
  return alias;
}

function aliasRoutes(level: ObjectLevel): Route[] {
  const named = { ...level.pathParams, name: p.reqStr };
  return [
    {
      method: 'GET',
      path: `${level.base}/aliases`,
      params: level.pathParams,
      handler: (ctx) => {
        level.audit(ctx);
        return withDigest(aliasList(level.scope(ctx, false)));
      },
    },
    {
      method: 'POST',
      path: `${level.base}/aliases`,
      params: { ...named, cidr: p.reqStr, comment: p.str },
      handler: (ctx) => {
        checkParams(ctx.params, { name: nameChecks.alias, cidr: cidrChecks.cidr });
        level.modify(ctx);
        const scope = level.scope(ctx, true);
        const { name = '', cidr = '', comment } = ctx.params;
        if (scope.aliases[name.toLowerCase()]) throw new ParameterError({ name: `alias '${name}' already exists` });
        scope.aliases[name.toLowerCase()] = storedAlias(name, cidr, comment);
        return null;
      },
    },
    {
      method: 'GET',
      path: `${level.base}/aliases/{name}`,
      params: named,
      handler: (ctx) => {
        checkParams(ctx.params, { name: nameChecks.alias });
        level.audit(ctx);
        const alias = level.scope(ctx, false).aliases[ctx.params.name!.toLowerCase()];
        if (!alias) throw new ParameterError({ name: 'no such alias' });
        return alias;
      },
    },
    {
      method: 'PUT',
      path: `${level.base}/aliases/{name}`,
      params: { ...named, cidr: p.reqStr, comment: p.str, rename: p.str, digest },
      handler: (ctx) => {
        checkParams(ctx.params, { name: nameChecks.alias, rename: nameChecks.alias, cidr: cidrChecks.cidr });
        level.modify(ctx);
        const scope = level.scope(ctx, true);
        assertDigest(listDigest(aliasList(scope)), ctx.params.digest);
        const { name = '', cidr = '', comment, rename } = ctx.params;
        const key = name.toLowerCase();
        if (!scope.aliases[key]) throw new ParameterError({ name: 'no such alias' });
        if (rename && rename.toLowerCase() !== key) {
          if (scope.aliases[rename.toLowerCase()])
            throw new ParameterError({ name: `alias '${rename}' already exists` });
          delete scope.aliases[key];
          scope.aliases[rename.toLowerCase()] = storedAlias(rename, cidr, comment);
        } else {
          scope.aliases[key] = storedAlias(name, cidr, comment);
        }
        return null;
      },
    },
    {
      method: 'DELETE',
      path: `${level.base}/aliases/{name}`,
      params: { ...named, digest },
      handler: (ctx) => {
        checkParams(ctx.params, { name: nameChecks.alias });
        level.modify(ctx);
        const scope = level.scope(ctx, true);
        assertDigest(listDigest(aliasList(scope)), ctx.params.digest);
        delete scope.aliases[ctx.params.name!.toLowerCase()];
        return null;
      },
    },
  ];
}

const clusterObjects: ObjectLevel = {
  base: '/cluster/firewall',
  pathParams: {},
  audit: (ctx) => requirePrivileges(ctx.sim.state, ctx.who, '/', ['Sys.Audit']),
  modify: (ctx) => requirePrivileges(ctx.sim.state, ctx.who, '/', ['Sys.Modify']),
  scope: (ctx) => firewallState(ctx.sim.state).cluster,
  aliasLookup: (ctx, name, prefix) =>
    prefix === 'guest/' ? undefined : firewallState(ctx.sim.state).cluster.aliases[name.toLowerCase()],
};

const vmObjects: ObjectLevel = {
  base: '/nodes/{node}/qemu/{vmid}/firewall',
  pathParams: { node: p.node, vmid: p.vmid },
  audit: (ctx) => requirePrivileges(ctx.sim.state, ctx.who, `/vms/${ctx.params.vmid}`, ['VM.Audit']),
  modify: (ctx) => requirePrivileges(ctx.sim.state, ctx.who, `/vms/${ctx.params.vmid}`, ['VM.Config.Network']),
  scope: (ctx, create) => {
    requireNode(ctx.sim, ctx.params.node!);
    return vmFirewall(ctx.sim.state, ctx.params.vmid!, create);
  },
  aliasLookup: (ctx, name, prefix) => {
    const key = name.toLowerCase();
    const own = prefix === 'dc/' ? undefined : vmFirewall(ctx.sim.state, ctx.params.vmid!).aliases[key];
    return own ?? (prefix === 'guest/' ? undefined : firewallState(ctx.sim.state).cluster.aliases[key]);
  },
};

export const firewallObjectRoutes: Route[] = [clusterObjects, vmObjects].flatMap((level) => [
  ...ipsetRoutes(level),
  ...aliasRoutes(level),
]);
