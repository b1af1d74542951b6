/**
 * pve-firewall's update loop. The daemon on each node reads the firewall configuration and the
 * VM configs every 10 s and (re)compiles the rules that filter traffic on that node; a change
 * therefore filters packets only after the next compile of the node concerned. The simulation
 * keeps one compiled ("active") snapshot per node, taken on that period (the `firewallUpdate`
 * latency, scaled like every other) with each node's loop at its own phase (node i of n starts
 * period × i / n later, as daemons started at different moments are), plus whether the
 * pve-firewall service runs on each node (stopping it removes every rule at once). Starting the
 * service on a node compiles that node only, and its cycle counts from then.
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

/**
 * What pve-firewall would compile from `state` now (pure): on `node`, the cluster part, its own
 * host.fw and the VMs it hosts; without a node, every node's part at once.
 */
export function compileFirewall(state: ClusterState, now = Date.now(), node?: string): CompiledFirewall {
  const firewall = firewallState(state);
  const vms: Record<string, CompiledVm> = {};
  for (const vm of Object.values(state.vms)) {
    if (node !== undefined && vm.node !== node) continue;
    const scope = firewall.vms[String(vm.vmid)];
    if (scope) vms[String(vm.vmid)] = compileVm(vm, structuredClone(scope));
  }
  const host = node === undefined ? undefined : firewall.hosts[node];
  const hosts = node === undefined ? structuredClone(firewall.hosts) : host ? { [node]: structuredClone(host) } : {};
  const cluster = structuredClone(firewall.cluster);
  return {
    compiledAt: now,
    enabled: clusterEnabled(cluster.options, now),
    cluster,
    sdnIpsets: sdnIpsets(state),
    hosts,
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

/** Whether `nets` (compiled) still match the `firewall=1` flags of `vm`'s NICs now. */
function sameNets(nets: Record<string, boolean>, vm: Vm): boolean {
  let count = 0;
  for (const key in vm.config) {
    if (!key.startsWith('net') || !netKeyPattern.test(key)) continue;
    count++;
    if (nets[key] !== nicFirewall(vm.config[key]!)) return false;
  }
  return count === Object.keys(nets).length;
}

export class FirewallDaemon {
  /** Each node's snapshot: what it compiled last. */
  private readonly compiled = new Map<string, CompiledFirewall>();
  /** Each node's next scheduled compile. */
  private readonly ticks = new Map<string, () => void>();
  private readonly stoppedOn = new Set<string>();

  constructor(
    private readonly state: () => ClusterState,
    private readonly clock: SimClock,
  ) {
    for (const node of this.nodes()) this.compile(node);
  }

  private nodes(): string[] {
    return Object.keys(this.state().nodes);
  }

  /** The ruleset filtering packets on `node` now: its last compile. */
  activeOn(node: string): CompiledFirewall {
    return this.compiled.get(node) ?? this.compile(node);
  }

  /** The ruleset in force on the node the API answers as (the first one). */
  get active(): CompiledFirewall {
    return this.activeOn(this.nodes()[0]!);
  }

  /**
   * Every node compiles now (after start or a state load), then each every `firewallUpdate`, node
   * i of n first after period × i / n (the first node after a full period).
   */
  restart(): void {
    const nodes = this.nodes();
    const period = this.clock.ms('firewallUpdate');
    for (const [name, cancel] of this.ticks) if (!nodes.includes(name)) cancel();
    nodes.forEach((node, index) => {
      this.compile(node);
      this.schedule(node, index === 0 ? period : (period * index) / nodes.length);
    });
  }

  private schedule(node: string, delay: number): void {
    this.ticks.get(node)?.();
    this.ticks.delete(node);
    const period = this.clock.ms('firewallUpdate');
    if (period <= 0) return;
    this.ticks.set(
      node,
      this.clock.schedule(delay, () => {
        this.compile(node);
        this.schedule(node, period);
      }),
    );
  }

  /**
   * An immediate update on `node` (what PVE does there after the anti-lockout `enable` call), or
   * on every node without one; the periods go on.
   */
  compileNow(node?: string): void {
    for (const name of node === undefined ? this.nodes() : [node]) this.compile(name);
  }

  private compile(node: string): CompiledFirewall {
    const compiled = compileFirewall(this.state(), Date.now(), node);
    this.compiled.set(node, compiled);
    return compiled;
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
    const active = this.activeOn(node);
    const enabled = clusterEnabled(firewall.cluster.options, now);
    // A disabled cluster compiles to nothing, whatever else the files hold.
    if (!enabled || !active.enabled) return enabled !== active.enabled;
    const { cluster } = firewall;
    // The cluster's `enable` is the switch above (a timestamp and 1 both mean on).
    if (!sameCompiled(active.cluster.options, cluster.options, 'enable')) return true;
    if (!sameCompiled(active.cluster, cluster, 'options')) return true;
    if (!sameCompiled(active.hosts[node] ?? noHost, firewall.hosts[node] ?? noHost)) return true;
    if (!sameCompiled(active.sdnIpsets, sdnIpsets(state))) return true;
    // The snapshot holds only this node's VMs (as they were when it compiled).
    const compiledVms = active.vms;
    let count = 0;
    for (const vm of Object.values(state.vms)) {
      if (vm.node !== node) continue;
      const scope = firewall.vms[String(vm.vmid)];
      if (!scope) continue;
      count++;
      const compiled = compiledVms[String(vm.vmid)];
      if (!compiled || !sameNets(compiled.nets, vm) || !sameVmScope(compiled.scope, scope)) return true;
    }
    return count !== Object.keys(compiledVms).length;
  }

  /** Whether pve-firewall runs on `node` (its rules are in force). */
  runningOn(node: string): boolean {
    return !this.stoppedOn.has(node);
  }

  /** `systemctl stop pve-firewall`: the node's rules are removed at once. */
  stopService(node: string): void {
    this.stoppedOn.add(node);
  }

  /** Starting (or restarting) the service on `node` compiles there at once; its cycle counts from then. */
  startService(node: string): void {
    this.stoppedOn.delete(node);
    this.compile(node);
    this.schedule(node, this.clock.ms('firewallUpdate'));
  }
}
