/**
 * The node and VM firewall levels: `/nodes/{node}/firewall` (host options; `enable` there switches
 * the host's own rules, not the guests') and `/nodes/{node}/qemu/{vmid}/firewall` (index, options,
 * refs, log). A VM's firewall config exists independently of the VM, as /etc/pve/firewall/<vmid>.fw.
 */
import { hostFirewall, vmFirewall } from '../network/firewall-config';
import { requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { p } from '../validate';
import { hostOptions, optionParams, readOptions, vmOptions, writeOptions } from './firewall-options';
import { vmRefs } from './firewall-refs';
import { requireNode } from './vm-access';

const vmPath = '/nodes/{node}/qemu/{vmid}/firewall';
const vmParams = { node: p.node, vmid: p.vmid };
const logParams = { limit: p.int, start: p.int, since: p.int, until: p.int };

const onVm = (privilege: string) => (ctx: HandlerContext) => {
  requireNode(ctx.sim, ctx.params.node!);
  requirePrivileges(ctx.sim.state, ctx.who, `/vms/${ctx.params.vmid}`, [privilege]);
};
const onNode = (privilege: string) => (ctx: HandlerContext) => {
  requireNode(ctx.sim, ctx.params.node!);
  requirePrivileges(ctx.sim.state, ctx.who, `/nodes/${ctx.params.node}`, [privilege]);
};

/** No packet is ever logged in the simulation: the log holds only its "no content" line. */
const emptyLog = () => [{ n: 0, t: 'no content' }];

export const firewallGuestRoutes: Route[] = [
  {
    method: 'GET',
    path: vmPath,
    params: vmParams,
    handler: () => ['rules', 'aliases', 'ipset', 'refs', 'options'].map((name) => ({ name })),
  },
  {
    method: 'GET',
    path: `${vmPath}/options`,
    params: vmParams,
    handler: (ctx) => {
      onVm('VM.Audit')(ctx);
      return readOptions(vmFirewall(ctx.sim.state, ctx.params.vmid!).options);
    },
  },
  {
    method: 'PUT',
    path: `${vmPath}/options`,
    params: { ...vmParams, ...optionParams(vmOptions) },
    handler: (ctx) => {
      onVm('VM.Config.Network')(ctx);
      writeOptions(ctx, vmFirewall(ctx.sim.state, ctx.params.vmid!, true).options, vmOptions);
      return null;
    },
  },
  {
    method: 'GET',
    path: `${vmPath}/refs`,
    params: { ...vmParams, type: { type: 'string', optional: true, enum: ['alias', 'ipset'] } },
    handler: (ctx) => {
      onVm('VM.Audit')(ctx);
      return vmRefs(ctx);
    },
  },
  {
    method: 'GET',
    path: `${vmPath}/log`,
    params: { ...vmParams, ...logParams },
    handler: (ctx) => {
      onVm('VM.Console')(ctx);
      return emptyLog();
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/firewall',
    params: { node: p.node },
    handler: () => ['rules', 'options', 'log'].map((name) => ({ name })),
  },
  {
    method: 'GET',
    path: '/nodes/{node}/firewall/options',
    params: { node: p.node },
    handler: (ctx) => {
      onNode('Sys.Audit')(ctx);
      return readOptions(hostFirewall(ctx.sim.state, ctx.params.node!).options);
    },
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/firewall/options',
    params: { node: p.node, ...optionParams(hostOptions) },
    handler: (ctx) => {
      onNode('Sys.Modify')(ctx);
      writeOptions(ctx, hostFirewall(ctx.sim.state, ctx.params.node!, true).options, hostOptions);
      return null;
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/firewall/log',
    params: { node: p.node, ...logParams },
    handler: (ctx) => {
      onNode('Sys.Syslog')(ctx);
      return emptyLog();
    },
  },
];
