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
 */
import type { SimClock } from '../clock';
import type { ClusterState, FirewallIpset, FirewallScope, FirewallState } from '../state/types';
import { netKeyPattern, parseProperties } from '../state/vm-config';
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
  vms: Record<string, CompiledVm>;
}

/** What pve-firewall would compile from `state` now (pure). */
export function compileFirewall(state: ClusterState, now = Date.now()): CompiledFirewall {
  const firewall = structuredClone(firewallState(state));
  const vms: Record<string, CompiledVm> = {};
  for (const vm of Object.values(state.vms)) {
    const scope = firewall.vms[String(vm.vmid)];
    if (!scope) continue;
    const nets: Record<string, boolean> = {};
    for (const [key, value] of Object.entries(vm.config)) {
      if (netKeyPattern.test(key)) nets[key] = parseProperties(value, 'model').firewall === '1';
    }
    vms[String(vm.vmid)] = { node: vm.node, scope, nets };
  }
  return {
    compiledAt: now,
    enabled: clusterEnabled(firewall.cluster.options, now),
    cluster: firewall.cluster,
    sdnIpsets: sdnIpsets(state),
    vms,
  };
}

export class FirewallDaemon {
  private compiled: CompiledFirewall;
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
    this.compiled = compileFirewall(this.state());
    const period = this.clock.ms('firewallUpdate');
    if (period > 0) this.cancelTick = this.clock.schedule(period, () => this.restart());
  }

  /** An immediate update (what PVE does after the anti-lockout `enable` call); the period goes on. */
  compileNow(): void {
    this.compiled = compileFirewall(this.state());
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
