/**
 * The firewall configuration as pve-firewall keeps it (cluster.fw, host.fw, <vmid>.fw): access
 * to it in the cluster state, PVE's digests, and `verifyRule`, the checks pve-firewall makes
 * before it stores a rule (and again whenever it reads one, so a rule whose IPSet disappeared
 * carries `errors` and is skipped when rules are compiled).
 */
import { createHash } from 'node:crypto';
import type { ClusterState, FirewallIpset, FirewallRule, FirewallScope, FirewallState } from '../state/types';
import { canonicalMacro, macroLines, protocolsWithPorts } from './firewall-catalog';
import { checkAddressSpec, checkPortSpec, checkProtocol, objectNamePattern } from './firewall-specs';

export type RuleEnv = 'cluster' | 'host' | 'vm' | 'group';

function emptyScope(): FirewallScope {
  return { options: {}, rules: [], ipsets: {}, aliases: {} };
}

/** The cluster's firewall config, created empty (firewall disabled, as on a fresh install) on first use. */
export function firewallState(state: ClusterState): FirewallState {
  state.firewall ??= { cluster: { ...emptyScope(), groups: {} }, hosts: {}, vms: {} };
  return state.firewall;
}

/** A VM's <vmid>.fw, created empty on first write (`create: true`), else an empty read-only view. */
export function vmFirewall(state: ClusterState, vmid: number | string, create = false): FirewallScope {
  const firewall = firewallState(state);
  const existing = firewall.vms[String(vmid)];
  if (existing) return existing;
  const scope = emptyScope();
  if (create) firewall.vms[String(vmid)] = scope;
  return scope;
}

export function hostFirewall(
  state: ClusterState,
  node: string,
  create = false,
): { options: Record<string, string | number>; rules: FirewallRule[] } {
  const firewall = firewallState(state);
  const existing = firewall.hosts[node];
  if (existing) return existing;
  const host = { options: {}, rules: [] };
  if (create) firewall.hosts[node] = host;
  return host;
}

/** qemu-server removes a VM's firewall config when the VM is destroyed. */
export function removeVmFirewall(state: ClusterState, vmid: number): void {
  if (state.firewall) delete state.firewall.vms[String(vmid)];
}

/** qemu-server copies the source's firewall config to a clone. */
export function cloneVmFirewall(state: ClusterState, from: number, to: number): void {
  const source = state.firewall?.vms[String(from)];
  if (source) firewallState(state).vms[String(to)] = structuredClone(source);
  else removeVmFirewall(state, to);
}

/** PVE's digest of a list: SHA-1 over every entry's sorted `key:value` lines (nested values skipped). */
export function listDigest(list: object[]): string {
  const sha = createHash('sha1');
  for (const entry of list) {
    for (const key of Object.keys(entry).sort()) {
      const value = (entry as Record<string, unknown>)[key];
      if (value === undefined || value === null || typeof value === 'object') continue;
      sha.update(`${key}:${String(value)}\n`);
    }
  }
  return sha.digest('hex');
}

/** PVE's digest of an options object. */
export function objectDigest(object: Record<string, unknown>): string {
  return listDigest([object]);
}

/** Every entry with `digest` (the digest of the whole list), as PVE answers list reads. */
export function withDigest<T extends object>(list: T[]): Array<T & { digest: string }> {
  const digest = listDigest(list);
  return list.map((entry) => ({ ...entry, digest }));
}

/** The IPSets and aliases a rule may refer to: the cluster's, its own file's (VM rules) and SDN's. */
export interface RuleRefs {
  cluster: FirewallScope;
  local?: FirewallScope;
  sdnIpsets: Record<string, FirewallIpset>;
}

/** The first complaint about a rule, as pve-firewall raises it (one parameter at a time). */
export class RuleError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'RuleError';
  }
}

const envTypes: Record<RuleEnv, string[]> = {
  vm: ['in', 'out', 'group'],
  group: ['in', 'out', 'forward'],
  cluster: ['in', 'out', 'forward', 'group'],
  host: ['in', 'out', 'forward', 'group'],
};

const isIcmp = (proto: string | undefined) => proto === 'icmp' || proto === 'icmpv6' || proto === 'ipv6-icmp';

/**
 * Checks a rule for its environment and returns it with `macro` canonicalised and `ipversion`
 * set; throws RuleError on the first problem (pve-firewall's verify_rule, restated).
 */
export function verifyRule(input: Partial<FirewallRule>, env: RuleEnv, refs: RuleRefs): FirewallRule {
  const rule = { ...input };
  let ipversion: 4 | 6 | undefined;
  const setVersion = (field: string, version: 4 | 6 | undefined) => {
    if (!version) return;
    if (ipversion && ipversion !== version) throw new RuleError(field, 'detected mixed ipv4/ipv6 addresses in rule');
    ipversion = version;
  };
  const { type, action } = rule;
  if (!type) throw new RuleError('type', 'missing property');
  if (!action) throw new RuleError('action', 'missing property');
  if (!envTypes[env].includes(type)) throw new RuleError('type', `invalid rule type '${type}' for rule_env '${env}'`);
  if (type === 'group') {
    if (env === 'group') throw new RuleError('type', 'security groups not allowed');
    if (!objectNamePattern.test(action)) throw new RuleError('action', 'invalid characters in security group name');
  } else {
    if (type === 'forward' && action === 'REJECT') {
      throw new RuleError('action', 'cannot define REJECT rules on forward chain');
    }
    if (!/^(ACCEPT|DROP|REJECT)$/.test(action)) throw new RuleError('action', `unknown action '${action}'`);
  }
  if (rule.iface) {
    if (env === 'group') throw new RuleError('type', 'parameter -i not allowed for this rule type');
    if (!/^[a-z][a-z0-9_]{1,20}([:.]\d+)?$/i.test(rule.iface)) {
      throw new RuleError('iface', `invalid network interface name '${rule.iface}'`);
    }
    if (env === 'vm' && !/^net\d+$/.test(rule.iface)) {
      throw new RuleError('iface', "value does not match the regex pattern 'net\\d+'");
    }
  }
  if (rule.macro) {
    const canonical = canonicalMacro(rule.macro);
    if (!canonical) throw new RuleError('macro', `unknown macro '${rule.macro}'`);
    rule.macro = canonical;
  }
  const { proto } = rule;
  if (proto) {
    const problem = checkProtocol(proto);
    if (problem) throw new RuleError('proto', problem);
    if (proto === 'icmp') setVersion('proto', 4);
    if (proto === 'icmpv6' || proto === 'ipv6-icmp') setVersion('proto', 6);
  }
  if (rule.dport) {
    const problem = checkPortSpec(rule.dport, isIcmp(proto));
    if (problem) throw new RuleError('dport', problem);
    if (!proto) throw new RuleError('proto', "missing property - 'dport' requires this property");
    if (!protocolsWithPorts.has(proto) && !isIcmp(proto)) {
      throw new RuleError('dport', `protocol '${proto}' does not support ports`);
    }
  }
  if (rule['icmp-type']) {
    if (!isIcmp(proto)) throw new RuleError('proto', "missing property - 'icmp-type' requires this property");
    if (rule.dport) throw new RuleError('icmp-type', "'icmp-type' cannot be specified together with 'dport'");
  }
  if (rule.sport) {
    const problem = checkPortSpec(rule.sport, false);
    if (problem) throw new RuleError('sport', problem);
    if (!proto) throw new RuleError('proto', "missing property - 'sport' requires this property");
    if (!protocolsWithPorts.has(proto)) throw new RuleError('sport', `protocol '${proto}' does not support ports`);
  }
  for (const field of ['source', 'dest'] as const) {
    const value = rule[field];
    if (!value) continue;
    const parsed = checkAddressSpec(value);
    if (parsed.error) throw new RuleError(field, parsed.error);
    setVersion(field, parsed.ipversion);
    checkReference(field, value, refs, setVersion);
  }
  if (ipversion) rule.ipversion = ipversion;
  else delete rule.ipversion;
  if (rule.macro) checkMacroConflicts(rule);
  return rule as FirewallRule;
}

/** An IPSet or alias named in source/dest must exist somewhere the rule can see. */
function checkReference(
  field: string,
  value: string,
  refs: RuleRefs,
  setVersion: (field: string, version: 4 | 6 | undefined) => void,
): void {
  if (value.startsWith('+')) {
    const match = /^\+(guest\/|dc\/|sdn\/)?([A-Za-z][A-Za-z0-9\-_]+)$/.exec(value);
    if (!match) throw new RuleError(field, `invalid ipset name '${value}'`);
    const name = match[2]!;
    if (!refs.cluster.ipsets[name] && !refs.local?.ipsets[name] && !refs.sdnIpsets[name]) {
      throw new RuleError(field, `no such ipset '${name}'`);
    }
    return;
  }
  const alias = /^(dc\/|guest\/)?([A-Za-z][A-Za-z0-9\-_]+)$/.exec(value);
  if (!alias) return;
  const key = alias[2]!.toLowerCase();
  if (!refs.cluster.aliases[key] && !refs.local?.aliases[key]) throw new RuleError(field, `no such alias '${value}'`);
  const scope = alias[1] ?? '';
  const found =
    (scope !== 'dc/' ? refs.local?.aliases[key] : undefined) ??
    (scope !== 'guest/' ? refs.cluster.aliases[key] : undefined);
  setVersion(field, found?.ipversion);
}

/** A rule's own proto/dport/sport may not contradict what its macro defines. */
function checkMacroConflicts(rule: Partial<FirewallRule>): void {
  const { lines, only } = macroLines(rule.macro!);
  if (rule.ipversion && only && only !== rule.ipversion) return;
  for (const line of lines) {
    for (const key of ['proto', 'dport', 'sport'] as const) {
      const given = rule[key];
      const defined = line[key];
      if (given !== undefined && defined !== undefined && given !== defined) {
        throw new RuleError(key, `parameter '${key}' already define in macro (value = '${defined}')`);
      }
    }
  }
}

/** The rule as stored plus `errors` when it no longer verifies (shown by GET, skipped when compiling). */
export function ruleWithErrors(rule: FirewallRule, env: RuleEnv, refs: RuleRefs): FirewallRule & { errors?: object } {
  try {
    verifyRule(rule, env, refs);
    return rule;
  } catch (error) {
    if (error instanceof RuleError) return { ...rule, errors: { [error.field]: error.message } };
    throw error;
  }
}

/** Whether a stored rule still verifies; compile skips those that do not. */
export function ruleIsValid(rule: FirewallRule, env: RuleEnv, refs: RuleRefs): boolean {
  return !('errors' in ruleWithErrors(rule, env, refs));
}

/** The cluster-wide `enable`: a timestamp (the GUI's anti-lockout first step) counts only for 60 s. */
export function clusterEnabled(options: Record<string, string | number>, nowMs = Date.now()): boolean {
  const enable = Number(options.enable ?? 0);
  if (enable > 1) return nowMs / 1000 - enable <= 60;
  return enable === 1;
}
