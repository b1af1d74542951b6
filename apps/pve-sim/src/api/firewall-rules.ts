/**
 * Rule lists of every firewall level (cluster, security group, node, VM): list, read, create
 * (new rules go on top, disabled unless `enable` is given), update (field changes, `delete`, or
 * `moveto`), delete, with PVE's digest checks and rule verification.
 */
import { fail, ParameterError } from '../errors';
import {
  firewallState,
  hostFirewall,
  listDigest,
  type RuleEnv,
  RuleError,
  type RuleRefs,
  ruleWithErrors,
  verifyRule,
  vmFirewall,
} from '../network/firewall-config';
import { requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import type { FirewallRule } from '../state/types';
import { type ParamSpecs, p } from '../validate';
import { checkParams, nameChecks, ruleChecks, ruleParams, ruleUpdateParams, splitList } from './firewall-params';
import { refsFor } from './firewall-refs';
import { requireNode } from './vm-access';

/** One place rules live, with who may read and change them. */
interface RuleLevel {
  env: RuleEnv;
  /** Path template of the list, e.g. `/nodes/{node}/qemu/{vmid}/firewall/rules`. */
  path: string;
  pathParams: ParamSpecs;
  audit(ctx: HandlerContext): void;
  modify(ctx: HandlerContext): void;
  /** The list itself (created on first write when `create`); throws when its owner does not exist. */
  rules(ctx: HandlerContext, create: boolean): FirewallRule[];
  save(ctx: HandlerContext, rules: FirewallRule[]): void;
}

const ruleFields = [
  'type',
  'action',
  'macro',
  'iface',
  'source',
  'dest',
  'proto',
  'dport',
  'sport',
  'log',
  'comment',
  'icmp-type',
  'enable',
] as const;

/** Copies given fields onto a rule; an empty value (or `-`) removes the field, as PVE does. */
function copyFields(rule: Partial<FirewallRule>, params: Record<string, string>): Partial<FirewallRule> {
  const out: Record<string, unknown> = { ...rule };
  for (const field of ruleFields) {
    const value = params[field];
    if (value === undefined) continue;
    if (value === '' || value === '-') delete out[field];
    else out[field] = field === 'enable' ? (Number(value) > 0 ? 1 : 0) : value;
  }
  return out as Partial<FirewallRule>;
}

function verifyOrThrow(rule: Partial<FirewallRule>, level: RuleLevel, refs: RuleRefs): FirewallRule {
  try {
    return verifyRule(rule, level.env, refs);
  } catch (error) {
    if (error instanceof RuleError) throw new ParameterError({ [error.field]: error.message });
    throw error;
  }
}

function assertDigest(current: string, given: string | undefined): void {
  if (given && given !== current) fail('detected modified configuration - file changed by other user? Try again.');
}

/** The list as GET shows it: each rule with `pos`, the list digest and, for broken ones, `errors`. */
function presented(level: RuleLevel, ctx: HandlerContext) {
  const rules = level.rules(ctx, false);
  const refs = refsFor(ctx, level.env);
  const digest = listDigest(rules);
  return rules.map((rule, pos) => ({ ...ruleWithErrors(rule, level.env, refs), pos, digest }));
}

function ruleRoutes(level: RuleLevel): Route[] {
  const item = `${level.path}/{pos}`;
  const withPos = { ...level.pathParams, pos: { type: 'integer', minimum: 0 } as const };
  const position = (ctx: HandlerContext, rules: FirewallRule[]) => {
    const pos = Number(ctx.params.pos);
    if (pos >= rules.length) fail(`no rule at position ${pos}`);
    return pos;
  };
  return [
    {
      method: 'GET',
      path: level.path,
      params: level.pathParams,
      handler: (ctx) => {
        level.audit(ctx);
        return presented(level, ctx);
      },
    },
    {
      method: 'GET',
      path: item,
      params: withPos,
      handler: (ctx) => {
        level.audit(ctx);
        const list = presented(level, ctx);
        return list[position(ctx, list as FirewallRule[])];
      },
    },
    {
      method: 'POST',
      path: level.path,
      params: {
        ...ruleParams,
        ...level.pathParams,
        type: { ...ruleParams.type!, optional: false },
        action: { ...ruleParams.action!, optional: false },
      },
      handler: (ctx) => {
        checkParams(ctx.params, ruleChecks);
        level.modify(ctx);
        const rules = level.rules(ctx, true);
        const rule = verifyOrThrow(copyFields({}, ctx.params), level, refsFor(ctx, level.env));
        // A rule created without `enable` is stored disabled.
        rule.enable = rule.enable === 1 ? 1 : 0;
        level.save(ctx, [rule, ...rules]);
        return null;
      },
    },
    {
      method: 'PUT',
      path: item,
      params: { ...ruleUpdateParams, ...withPos },
      handler: (ctx) => {
        checkParams(ctx.params, ruleChecks);
        level.modify(ctx);
        const rules = level.rules(ctx, false);
        assertDigest(listDigest(rules), ctx.params.digest);
        const pos = position(ctx, rules);
        const moveto = ctx.params.moveto === undefined ? undefined : Number(ctx.params.moveto);
        if (moveto !== undefined && moveto !== pos) {
          const moving = rules[pos]!;
          const rest = rules.filter((_, index) => index !== pos);
          // PVE inserts before the rule that was at `moveto` (counted before the move).
          const target = moveto > pos ? moveto - 1 : moveto;
          rest.splice(Math.min(target, rest.length), 0, moving);
          level.save(ctx, rest);
          return null;
        }
        let changed = copyFields(rules[pos]!, ctx.params);
        for (const field of splitList(ctx.params.delete)) {
          if (!(field in ruleUpdateParams) || field === 'moveto' || field === 'delete') {
            throw new ParameterError({ delete: `no such property ('${field}')` });
          }
          if (field === 'type' || field === 'action') {
            throw new ParameterError({ delete: `unable to delete required property '${field}'` });
          }
          changed = { ...changed };
          delete (changed as Record<string, unknown>)[field];
        }
        const verified = verifyOrThrow(changed, level, refsFor(ctx, level.env));
        verified.enable ??= 0;
        level.save(
          ctx,
          rules.map((rule, index) => (index === pos ? verified : rule)),
        );
        return null;
      },
    },
    {
      method: 'DELETE',
      path: item,
      params: { ...withPos, digest: ruleParams.digest! },
      handler: (ctx) => {
        level.modify(ctx);
        const rules = level.rules(ctx, false);
        assertDigest(listDigest(rules), ctx.params.digest);
        const pos = position(ctx, rules);
        level.save(
          ctx,
          rules.filter((_, index) => index !== pos),
        );
        return null;
      },
    },
  ];
}

const atRoot = (privilege: string) => (ctx: HandlerContext) =>
  requirePrivileges(ctx.sim.state, ctx.who, '/', [privilege]);

const clusterLevel: RuleLevel = {
  env: 'cluster',
  path: '/cluster/firewall/rules',
  pathParams: {},
  audit: atRoot('Sys.Audit'),
  modify: atRoot('Sys.Modify'),
  rules: (ctx) => firewallState(ctx.sim.state).cluster.rules,
  save: (ctx, rules) => {
    firewallState(ctx.sim.state).cluster.rules = rules;
  },
};

const groupLevel: RuleLevel = {
  env: 'group',
  path: '/cluster/firewall/groups/{group}',
  pathParams: { group: p.reqStr },
  audit: atRoot('Sys.Audit'),
  modify: atRoot('Sys.Modify'),
  rules: (ctx) => {
    checkParams(ctx.params, { group: nameChecks.group });
    const group = firewallState(ctx.sim.state).cluster.groups[ctx.params.group!];
    if (!group) fail(`no such security group '${ctx.params.group}'`);
    return group.rules;
  },
  save: (ctx, rules) => {
    firewallState(ctx.sim.state).cluster.groups[ctx.params.group!]!.rules = rules;
  },
};

const hostLevel: RuleLevel = {
  env: 'host',
  path: '/nodes/{node}/firewall/rules',
  pathParams: { node: p.node },
  audit: (ctx) => requirePrivileges(ctx.sim.state, ctx.who, `/nodes/${ctx.params.node}`, ['Sys.Audit']),
  modify: (ctx) => requirePrivileges(ctx.sim.state, ctx.who, `/nodes/${ctx.params.node}`, ['Sys.Modify']),
  rules: (ctx, create) => {
    requireNode(ctx.sim, ctx.params.node!);
    return hostFirewall(ctx.sim.state, ctx.params.node!, create).rules;
  },
  save: (ctx, rules) => {
    hostFirewall(ctx.sim.state, ctx.params.node!, true).rules = rules;
  },
};

const vmLevel: RuleLevel = {
  env: 'vm',
  path: '/nodes/{node}/qemu/{vmid}/firewall/rules',
  pathParams: { node: p.node, vmid: p.vmid },
  audit: (ctx) => requirePrivileges(ctx.sim.state, ctx.who, `/vms/${ctx.params.vmid}`, ['VM.Audit']),
  modify: (ctx) => requirePrivileges(ctx.sim.state, ctx.who, `/vms/${ctx.params.vmid}`, ['VM.Config.Network']),
  rules: (ctx, create) => {
    requireNode(ctx.sim, ctx.params.node!);
    return vmFirewall(ctx.sim.state, ctx.params.vmid!, create).rules;
  },
  save: (ctx, rules) => {
    vmFirewall(ctx.sim.state, ctx.params.vmid!, true).rules = rules;
  },
};

export const firewallRuleRoutes: Route[] = [clusterLevel, groupLevel, hostLevel, vmLevel].flatMap(ruleRoutes);
