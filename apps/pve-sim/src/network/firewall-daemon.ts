/**
 * pve-firewall's update loop. The daemon on each node reads the firewall configuration and the
 * VM configs every 10 s and (re)compiles the rules that filter traffic; a change therefore filters
 * packets only after the next compile. The simulation keeps the compiled ("active") ruleset as a
 * snapshot taken on that period (the `firewallUpdate` latency, scaled like every other), plus
 * whether the pve-firewall service runs on each node (stopping it removes every rule at once).
 *
 * Snapshots hold what a compile reads: the cluster config (groups, IPSets, aliases, `enable`
 * evaluated then), SDN's derived IPSets, and per VM its firewall config and which NICs had
 * `firewall=1`. A VM that did not exist at the last compile has no chains yet: its traffic is not
 * filtered until the next one (as on PVE, where unknown tap devices fall through).
 *
 * `pve-firewall status` tells whether a compile now would change what a node has in force
 * (`pendingOn`): each node compiles the cluster part, SDN's IPSets, its own host.fw and the VMs
 * it hosts, so only those count for it.
 */
import type { SimClock } from '../clock';
import type { ClusterState, FirewallIpset, FirewallRule, FirewallScope, FirewallState, Vm } from '../state/types';
import { netKeyPattern } from '../state/vm-config';
import { clusterEnabled, firewallState } from './firewall-config';
import { sdnIpsets } from './sdn-ipsets';

export interface CompiledVm {
  node: string;
  scope: FirewallScope;
  /** `firewall=1` per `netN` at compile time. */
  nets: Record<string, boolean>;
}

export interface CompiledFirewall {
  /** Unix ms of the compile. */
  compiledAt: number;
  /** The cluster-wide switch as it stood then; off means no rules at all. */
  enabled: boolean;
  cluster: FirewallState['cluster'];
  sdnIpsets: Record<string, FirewallIpset>;
  /** host.fw per node (each node compiles its own). */
  hosts: FirewallState['hosts'];
  vms: Record<string, CompiledVm>;
}

/** `firewall=1` in a `netN` value (a property list such as `virtio=…,bridge=vmbr0,firewall=1`). */
function nicFirewall(value: string): boolean {
  return /(?:^|,)firewall=1(?:,|$)/.test(value);
}

/** A VM as a compile sees it: its node, its firewall config and the `firewall=1` flag per NIC. */
function compileVm(vm: Vm, scope: FirewallScope): CompiledVm {
  const nets: Record<string, boolean> = {};
  for (const key in vm.config) {
    if (netKeyPattern.test(key)) nets[key] = nicFirewall(vm.config[key]!);
  }
  return { node: vm.node, scope, nets };
}

/** What pve-firewall would compile from `state` now (pure). */
export function compileFirewall(state: ClusterState, now = Date.now()): CompiledFirewall {
  const firewall = structuredClone(firewallState(state));
  const vms: Record<string, CompiledVm> = {};
  for (const vm of Object.values(state.vms)) {
    const scope = firewall.vms[String(vm.vmid)];
    if (scope) vms[String(vm.vmid)] = compileVm(vm, scope);
  }
  return {
    compiledAt: now,
    enabled: clusterEnabled(firewall.cluster.options, now),
    cluster: firewall.cluster,
    sdnIpsets: sdnIpsets(state),
    hosts: firewall.hosts,
    vms,
  };
}

/**
 * Whether two parts of a firewall config compile to the same rules: compared value by value, key
 * order aside, leaving out comments (they never reach iptables) and disabled rules (pve-firewall
 * skips them). `skip` leaves out one more key at the top level.
 */
function sameCompiled(a: unknown, b: unknown, skip?: string): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameCompiled(a[i], b[i])) return false;
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  let count = 0;
  for (const key in left) {
    const value = left[key];
    if (key === 'comment' || key === skip || value === undefined) continue;
    count++;
    const other = right[key];
    if (key === 'rules' && Array.isArray(value) && Array.isArray(other)) {
      if (!sameCompiled(enabledRules(value), enabledRules(other))) return false;
    } else if (!sameCompiled(value, other)) return false;
  }
  for (const key in right) if (key !== 'comment' && key !== skip && right[key] !== undefined) count--;
  return count === 0;
}

function enabledRules(rules: FirewallRule[]): FirewallRule[] {
  return rules.every((rule) => rule.enable === 1) ? rules : rules.filter((rule) => rule.enable === 1);
}

/**
 * Whether a VM's firewall config compiles the same. With the VM's firewall off in both, it has no
 * chains: only its IPSets (built anyway, the implicit `ipfilter` ones included) and the aliases
 * they use count.
 */
function sameVmScope(compiled: FirewallScope, now: FirewallScope): boolean {
  if (compiled.options.enable || now.options.enable) return sameCompiled(compiled, now);
  return (
    compiled.options.ipfilter === now.options.ipfilter &&
    sameCompiled(compiled.ipsets, now.ipsets) &&
    sameCompiled(compiled.aliases, now.aliases)
  );
}

const noHost: FirewallState['hosts'][string] = { options: {}, rules: [] };

/** The compiled VMs of each node (of one snapshot). */
function vmsByNode(compiled: CompiledFirewall): Map<string, Map<string, CompiledVm>> {
  const byNode = new Map<string, Map<string, CompiledVm>>();
  for (const [vmid, vm] of Object.entries(compiled.vms)) {
    let vms = byNode.get(vm.node);
    if (!vms) {
      vms = new Map();
      byNode.set(vm.node, vms);
    }
    vms.set(vmid, vm);
  }
  return byNode;
}

/** Whether `nets` (compiled) still match the `firewall=1` flags of `vm`'s NICs now. */
function sameNets(nets: Record<string, boolean>, vm: Vm): boolean {
  let count = 0;
  for (const key in vm.config) {
    if (!key.startsWith('net') || !netKeyPattern.test(key)) continue;
    count++;
    if (nets[key] !== nicFirewall(vm.config[key]!)) return false;
  }
  for (const _key in nets) count--;
  return count === 0;
}

export class FirewallDaemon {
  private compiled: CompiledFirewall;
  /** The active snapshot's VMs grouped by node, made on first use (the snapshot never changes). */
  private activeByNode: Map<string, Map<string, CompiledVm>> | undefined;
  private readonly stoppedOn = new Set<string>();
  private cancelTick: (() => void) | undefined;

  constructor(
    private readonly state: () => ClusterState,
    private readonly clock: SimClock,
  ) {
    this.compiled = compileFirewall(state());
  }

  /** The ruleset filtering packets now. */
  get active(): CompiledFirewall {
    return this.compiled;
  }

  /** Compiles now and then every `firewallUpdate` (after start, a state load, or a service start). */
  restart(): void {
    this.cancelTick?.();
    this.compile();
    const period = this.clock.ms('firewallUpdate');
    if (period > 0) this.cancelTick = this.clock.schedule(period, () => this.restart());
  }

  /** An immediate update (what PVE does after the anti-lockout `enable` call); the period goes on. */
  compileNow(): void {
    this.compile();
  }

  private compile(): void {
    this.compiled = compileFirewall(this.state());
    this.activeByNode = undefined;
  }

  /**
   * Whether a compile now would change the rules in force on `node` (`pve-firewall status` says
   * `pending changes`): the cluster part, SDN's IPSets, the node's host.fw and the VMs on that node
   * (one that appeared, went, moved in or out, or whose firewall config or NIC flags changed).
   * Changes on other nodes' VMs do not count. Meaningful only while the service runs there.
   */
  pendingOn(node: string, now = Date.now()): boolean {
    const state = this.state();
    const firewall = firewallState(state);
    const active = this.compiled;
    const enabled = clusterEnabled(firewall.cluster.options, now);
    // A disabled cluster compiles to nothing, whatever else the files hold.
    if (!enabled || !active.enabled) return enabled !== active.enabled;
    const { cluster } = firewall;
    // The cluster's `enable` is the switch above (a timestamp and 1 both mean on).
    if (!sameCompiled(active.cluster.options, cluster.options, 'enable')) return true;
    if (!sameCompiled(active.cluster, cluster, 'options')) return true;
    if (!sameCompiled(active.hosts[node] ?? noHost, firewall.hosts[node] ?? noHost)) return true;
    if (!sameCompiled(active.sdnIpsets, sdnIpsets(state))) return true;
    this.activeByNode ??= vmsByNode(active);
    const compiledVms = this.activeByNode.get(node);
    let count = 0;
    for (const vm of Object.values(state.vms)) {
      if (vm.node !== node) continue;
      const scope = firewall.vms[String(vm.vmid)];
      if (!scope) continue;
      count++;
      const compiled = compiledVms?.get(String(vm.vmid));
      if (!compiled || !sameNets(compiled.nets, vm) || !sameVmScope(compiled.scope, scope)) return true;
    }
    return count !== (compiledVms?.size ?? 0);
  }

  /** Whether pve-firewall runs on `node` (its rules are in force). */
  runningOn(node: string): boolean {
    return !this.stoppedOn.has(node);
  }

  /** `systemctl stop pve-firewall`: the node's rules are removed at once. */
  stopService(node: string): void {
    this.stoppedOn.add(node);
  }

  /** Starting (or restarting) the service compiles at once; its cycle counts from then. */
  startService(node: string): void {
    this.stoppedOn.delete(node);
    this.restart();
  }
}
