/**
 * `/cluster/firewall`: its index, the cluster options (`enable` is the master switch, off on a
 * fresh install), security groups, the list of macros, and the references rules may use.
 */
import { fail, ParameterError } from '../errors';
import { macroLines, macroNames } from '../network/firewall-catalog';
import { firewallState, listDigest, withDigest } from '../network/firewall-config';
import { requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import type { FirewallRule } from '../state/types';
import { p } from '../validate';
import { clusterOptions, optionParams, readOptions, writeOptions } from './firewall-options';
import { checkParams, digest, nameChecks } from './firewall-params';
import { clusterRefs } from './firewall-refs';

const audit = (ctx: HandlerContext) => requirePrivileges(ctx.sim.state, ctx.who, '/', ['Sys.Audit']);
const modify = (ctx: HandlerContext) => requirePrivileges(ctx.sim.state, ctx.who, '/', ['Sys.Modify']);

function groupList(ctx: HandlerContext) {
  const groups = firewallState(ctx.sim.state).cluster.groups;
  return Object.keys(groups)
    .sort()
    .map((group) => (groups[group]!.comment ? { group, comment: groups[group]!.comment } : { group }));
}

/** Group rules that point at `from` point at `to` afterwards (a renamed group keeps its users). */
function renameReferences(rules: FirewallRule[], from: string, to: string): void {
  for (const rule of rules) if (rule.type === 'group' && rule.action === from) rule.action = to;
}

function createGroup(ctx: HandlerContext) {
  checkParams(ctx.params, { group: nameChecks.group, rename: nameChecks.group });
  modify(ctx);
  const firewall = firewallState(ctx.sim.state);
  const { groups } = firewall.cluster;
  const { group = '', rename, comment } = ctx.params;
  if (!rename) {
    if (groups[group]) throw new ParameterError({ group: `Security group '${group}' already exists` });
    groups[group] = comment === undefined ? { rules: [] } : { comment, rules: [] };
    return null;
  }
  if (ctx.params.digest && ctx.params.digest !== listDigest(groupList(ctx))) {
    fail('detected modified configuration - file changed by other user? Try again.');
  }
  const existing = groups[rename];
  if (!existing) throw new ParameterError({ group: `Security group '${rename}' does not exist` });
  if (groups[group] && group !== rename) {
    throw new ParameterError({ group: `Security group '${group}' does already exist` });
  }
  if (comment !== undefined) existing.comment = comment;
  if (group === rename) return null;
  delete groups[rename];
  groups[group] = existing;
  renameReferences(firewall.cluster.rules, rename, group);
  for (const host of Object.values(firewall.hosts)) renameReferences(host.rules, rename, group);
  for (const vm of Object.values(firewall.vms)) renameReferences(vm.rules, rename, group);
  return null;
}

function deleteGroup(ctx: HandlerContext) {
  checkParams(ctx.params, { group: nameChecks.group });
  modify(ctx);
  const { groups } = firewallState(ctx.sim.state).cluster;
  const group = groups[ctx.params.group!];
  if (!group) fail(`no such security group '${ctx.params.group}'`);
  if (group.rules.length > 0) fail(`Security group '${ctx.params.group}' is not empty`);
  delete groups[ctx.params.group!];
  return null;
}

export const firewallClusterRoutes: Route[] = [
  {
    method: 'GET',
    path: '/cluster/firewall',
    params: {},
    handler: () => ['aliases', 'rules', 'options', 'groups', 'ipset', 'macros', 'refs'].map((name) => ({ name })),
  },
  {
    method: 'GET',
    path: '/cluster/firewall/options',
    params: {},
    handler: (ctx) => {
      audit(ctx);
      return readOptions(firewallState(ctx.sim.state).cluster.options);
    },
  },
  {
    method: 'PUT',
    path: '/cluster/firewall/options',
    params: optionParams(clusterOptions),
    handler: (ctx) => {
      modify(ctx);
      const options = firewallState(ctx.sim.state).cluster.options;
      const set = writeOptions(ctx, options, clusterOptions);
      // `enable` above 1 is the GUI's anti-lockout step: stored as the time it was set.
      // Then pve-firewall updates at once instead of at its next cycle.
      if (typeof set.enable === 'number' && set.enable > 1) {
        options.enable = Math.floor(Date.now() / 1000);
        // On the node the call reached (the API answers as the first node); the others at their next cycle.
        ctx.sim.firewall.compileNow(ctx.sim.options.nodes[0]);
      }
      return null;
    },
  },
  {
    method: 'GET',
    path: '/cluster/firewall/groups',
    params: {},
    handler: (ctx) => withDigest(groupList(ctx)),
  },
  {
    method: 'POST',
    path: '/cluster/firewall/groups',
    params: { group: p.reqStr, comment: p.str, rename: p.str, digest },
    handler: createGroup,
  },
  {
    method: 'DELETE',
    path: '/cluster/firewall/groups/{group}',
    params: { group: p.reqStr },
    handler: deleteGroup,
  },
  {
    method: 'GET',
    path: '/cluster/firewall/macros',
    params: {},
    handler: () =>
      macroNames().map((macro) => ({
        macro,
        descr: macroLines(macro)
          .lines.map((line) => `${line.proto}${line.dport ? ` ${line.dport}` : ''}`)
          .join(', '),
      })),
  },
  {
    method: 'GET',
    path: '/cluster/firewall/refs',
    params: { type: { type: 'string', optional: true, enum: ['alias', 'ipset'] } },
    handler: (ctx) => {
      audit(ctx);
      return clusterRefs(ctx);
    },
  },
];
