/**
 * `/nodes/{node}/services`: the node's systemd services as PVE lists them. Only `pve-firewall`
 * changes anything when stopped: its rules vanish at once and guest traffic on that node goes
 * unfiltered until it starts again (starting compiles at once). The other services only report
 * the state they were put in.
 */
import { requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import type { Simulator } from '../sim';
import { type ParamSpec, p } from '../validate';
import { requireNode } from './vm-access';

/** Service id → the unit's description. */
const services: Record<string, string> = {
  chrony: 'chrony, an NTP client/server',
  corosync: 'Corosync Cluster Engine',
  cron: 'Regular background program processing daemon',
  ksmtuned: 'Kernel Samepage Merging (KSM) Tuning Daemon',
  postfix: 'Postfix Mail Transport Agent',
  'pve-cluster': 'The Proxmox VE cluster filesystem',
  'pve-firewall': 'Proxmox VE firewall',
  'pve-ha-crm': 'PVE Cluster HA Resource Manager Daemon',
  'pve-ha-lrm': 'PVE Local HA Resource Manager Daemon',
  pvedaemon: 'PVE API Daemon',
  'pvefw-logger': 'Proxmox VE firewall logger',
  pveproxy: 'PVE API Proxy Server',
  pvescheduler: 'Proxmox VE scheduler',
  pvestatd: 'PVE Status Daemon',
  spiceproxy: 'PVE SPICE Proxy Server',
  sshd: 'OpenBSD Secure Shell server',
  syslog: 'System Logging Service',
  'systemd-journald': 'Journal Service',
  'systemd-timesyncd': 'Network Time Synchronization',
};

/** Services stopped through the API, per simulator and node (all run after a simulator start). */
const stopped = new WeakMap<Simulator, Set<string>>();

function stoppedSet(sim: Simulator): Set<string> {
  let set = stopped.get(sim);
  if (!set) {
    set = new Set();
    stopped.set(sim, set);
  }
  return set;
}

function isRunning(sim: Simulator, node: string, service: string): boolean {
  if (service === 'pve-firewall') return sim.firewall.runningOn(node);
  return !stoppedSet(sim).has(`${node}/${service}`);
}

function stateOf(sim: Simulator, node: string, service: string) {
  const running = isRunning(sim, node, service);
  return {
    service,
    name: service,
    desc: services[service],
    state: running ? 'running' : 'dead',
    'active-state': running ? 'active' : 'inactive',
    'unit-state': 'enabled',
  };
}

const serviceParam: ParamSpec = { type: 'string', enum: Object.keys(services) };

function control(verb: 'start' | 'stop' | 'restart' | 'reload') {
  return (ctx: HandlerContext) => {
    const { sim, params, who } = ctx;
    requireNode(sim, params.node!);
    requirePrivileges(sim.state, who, `/nodes/${params.node}`, ['Sys.Modify']);
    const node = params.node!;
    const service = params.service!;
    return sim.tasks.start(node, `srv${verb}`, service, who, async () => {
      await sim.clock.sleep('smallTask', { taskWork: true });
      const run = verb !== 'stop';
      if (service === 'pve-firewall') {
        if (run) sim.firewall.startService(node);
        else sim.firewall.stopService(node);
      } else if (run) stoppedSet(sim).delete(`${node}/${service}`);
      else stoppedSet(sim).add(`${node}/${service}`);
    });
  };
}

const audit = (ctx: HandlerContext) => {
  requireNode(ctx.sim, ctx.params.node!);
  requirePrivileges(ctx.sim.state, ctx.who, `/nodes/${ctx.params.node}`, ['Sys.Audit']);
};

export const serviceRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/services',
    params: { node: p.node },
    handler: (ctx) => {
      audit(ctx);
      return Object.keys(services).map((service) => stateOf(ctx.sim, ctx.params.node!, service));
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/services/{service}',
    params: { node: p.node, service: serviceParam },
    handler: (ctx) => {
      audit(ctx);
      return ['state', 'start', 'stop', 'restart', 'reload'].map((subdir) => ({ subdir }));
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/services/{service}/state',
    params: { node: p.node, service: serviceParam },
    handler: (ctx) => {
      audit(ctx);
      return stateOf(ctx.sim, ctx.params.node!, ctx.params.service!);
    },
  },
  ...(['start', 'stop', 'restart', 'reload'] as const).map(
    (verb): Route => ({
      method: 'POST',
      path: `/nodes/{node}/services/{service}/${verb}`,
      params: { node: p.node, service: serviceParam },
      handler: control(verb),
    }),
  ),
];
