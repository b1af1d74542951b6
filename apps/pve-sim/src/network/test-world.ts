/**
 * A small cluster for the packet model's unit tests: VMs described by their NICs, a firewall
 * config to edit, and a world compiled from both (as the update loop would compile it).
 */
import { resolveOptions } from '../options';
import { SeededRandom } from '../random';
import { createDefaultState } from '../state/defaults';
import type { GuestRouteEntry } from '../state/guest-disk';
import type { ClusterState, FirewallRule, FirewallScope } from '../state/types';
import { firewallState, vmFirewall } from './firewall-config';
import { type CompiledFirewall, compileFirewall } from './firewall-daemon';
import type { Proto } from './firewall-eval';
import type { NetworkWorld } from './packet';
import { guestNics, topologyContext } from './topology';

export const guestSubnet = '127.64.0.0/16';

export class TestCluster {
  readonly state: ClusterState = createDefaultState(resolveOptions({ withTemplate: false }), new SeededRandom(1));
  /** `vmid/proto/port` of every socket listening (sshd on 22 is added for each VM). */
  readonly sockets = new Set<string>();
  readonly down = new Set<number>();
  readonly stoppedNodes = new Set<string>();
  /** Each VM's kernel parameters and routing changes (what its disk record keeps). */
  readonly sysctls = new Map<number, Record<string, string>>();
  readonly routes = new Map<number, GuestRouteEntry[]>();
  private compiled: CompiledFirewall | undefined;

  constructor() {
    this.state.sdn.zones.gdlab = { type: 'vlan', bridge: 'vmbr0' };
    this.state.sdn.zones.gdsimple = { type: 'simple' };
  }

  /** A VNet in the VLAN zone (tag) or, without a tag, in the simple zone. */
  vnet(name: string, tag?: number): this {
    this.state.sdn.vnets[name] = tag ? { vnet: name, zone: 'gdlab', tag } : { vnet: name, zone: 'gdsimple' };
    return this;
  }

  /** A running VM with `nets` (`netN` values) and `ipconfigs` (`ipconfigN` values). */
  vm(vmid: number, nets: string[], ipconfigs: Array<string | undefined> = [], node = 'pve01'): this {
    const config: Record<string, string> = {};
    nets.forEach((net, index) => {
      config[`net${index}`] =
        `virtio=BC:24:11:00:${String(vmid % 100).padStart(2, '0')}:${String(index).padStart(2, '0')},${net}`;
      const ipconfig = ipconfigs[index];
      if (ipconfig) config[`ipconfig${index}`] = ipconfig;
    });
    this.state.vms[vmid] = { vmid, node, status: 'running', config, snapshots: {} };
    this.listen(vmid, 'tcp', 22);
    return this;
  }

  /** `sysctl -w key=value` on a VM. */
  sysctl(vmid: number, key: string, value: string): this {
    this.sysctls.set(vmid, { ...this.sysctls.get(vmid), [key]: value });
    return this;
  }

  /** A VM forwards between its NICs (`net.ipv4.ip_forward=1`), or stops. */
  forwarding(vmid: number, on = true): this {
    return this.sysctl(vmid, 'net.ipv4.ip_forward', on ? '1' : '0');
  }

  /** `ip route add <destination> [via <via>] dev <dev>` on a VM. */
  route(vmid: number, entry: GuestRouteEntry): this {
    this.routes.set(vmid, [...(this.routes.get(vmid) ?? []), entry]);
    return this;
  }

  listen(vmid: number, proto: Proto, port: number): this {
    this.sockets.add(`${vmid}/${proto}/${port}`);
    return this;
  }

  /** The cluster switch on (as Glassdome sets it) and a VM's firewall enabled with `options`. */
  firewallOn(vmid: number, options: Record<string, string | number> = {}): FirewallScope {
    firewallState(this.state).cluster.options.enable = 1;
    const scope = vmFirewall(this.state, vmid, true);
    Object.assign(scope.options, { enable: 1, ...options });
    return scope;
  }

  rule(vmid: number, rule: Partial<FirewallRule>): this {
    vmFirewall(this.state, vmid, true).rules.push({ enable: 1, ...rule } as FirewallRule);
    return this;
  }

  /** What pve-firewall compiles now; until called again, later edits stay inactive. */
  compile(): this {
    this.compiled = compileFirewall(this.state);
    return this;
  }

  world(): NetworkWorld {
    const ctx = topologyContext(this.state, guestSubnet);
    this.compiled ??= compileFirewall(this.state);
    const compiled = this.compiled;
    return {
      hosts: Object.values(this.state.vms).map((vm) => ({
        vmid: vm.vmid,
        node: vm.node,
        up: vm.status === 'running' && !this.down.has(vm.vmid),
        nics: guestNics(vm, ctx),
        sysctl: this.sysctls.get(vm.vmid) ?? {},
        routes: this.routes.get(vm.vmid) ?? [],
      })),
      // Every node compiled at the same moment (the whole cluster's part at once).
      firewallOn: () => compiled,
      firewallRunning: (node) => !this.stoppedNodes.has(node),
      listening: (vmid, proto, port) => this.sockets.has(`${vmid}/${proto}/${port}`),
      guestSubnet,
    };
  }
}
