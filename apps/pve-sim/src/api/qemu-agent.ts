/**
 * `/nodes/{node}/qemu/{vmid}/agent/*`: the guest agent answers only once its boot delay has
 * passed; before that a call takes the ping timeout and fails `QEMU guest agent is not running`.
 */
import { fail } from '../errors';
import { agentInterfaces } from '../guests';
import { requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { agentEnabled } from '../state/vm-config';
import { p } from '../validate';
import { loadVm, requireNode } from './vm-access';

/** The VM, once its agent answers; PVE's errors (and the ping timeout) otherwise. */
export async function requireAgent({ sim, params, who }: HandlerContext) {
  const vm = loadVm(sim, params.node!, params.vmid!);
  requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Monitor']);
  if (!agentEnabled(vm.config)) fail('No QEMU guest agent configured');
  if (vm.status !== 'running') fail(`VM ${vm.vmid} is not running`);
  // Decided when the call arrives: the ping to a silent agent runs into its timeout either way.
  if (vm.agentUpAt === undefined || vm.agentUpAt > Date.now()) {
    await sim.clock.sleep('agentPingTimeout');
    fail('QEMU guest agent is not running');
  }
  return vm;
}

const answers: Record<string, (ctx: HandlerContext) => Promise<unknown>> = {
  'network-get-interfaces': async (ctx) => ({
    result: agentInterfaces(await requireAgent(ctx), ctx.sim.options.guestSubnet),
  }),
  ping: async (ctx) => {
    await requireAgent(ctx);
    return { result: {} };
  },
  info: async (ctx) => {
    await requireAgent(ctx);
    return { result: { version: '6.2.0', supported_commands: [] } };
  },
  'get-host-name': async (ctx) => ({ result: { 'host-name': (await requireAgent(ctx)).config.name ?? 'ubuntu' } }),
  'get-osinfo': async (ctx) => {
    await requireAgent(ctx);
    return {
      result: {
        id: 'ubuntu',
        name: 'Ubuntu',
        'pretty-name': 'Ubuntu 22.04.4 LTS',
        version: '22.04.4 LTS (Jammy Jellyfish)',
        'version-id': '22.04',
        'kernel-release': '5.15.0-105-generic',
        'kernel-version': '#115-Ubuntu SMP',
        machine: 'x86_64',
      },
    };
  },
};

const base = { node: p.node, vmid: p.vmid };

/** Every command qemu-server offers under `…/agent` (its command table plus the ones with parameters). */
const agentCommands = [
  'exec',
  'exec-status',
  'file-read',
  'file-write',
  'fsfreeze-freeze',
  'fsfreeze-status',
  'fsfreeze-thaw',
  'fstrim',
  'get-fsinfo',
  'get-host-name',
  'get-memory-block-info',
  'get-memory-blocks',
  'get-osinfo',
  'get-time',
  'get-timezone',
  'get-users',
  'get-vcpus',
  'info',
  'network-get-interfaces',
  'ping',
  'set-user-password',
  'shutdown',
  'suspend-disk',
  'suspend-hybrid',
  'suspend-ram',
];

export const qemuAgentRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/agent',
    params: base,
    // qemu-server's agent index takes any further parameter (additionalProperties => 1).
    extraParams: () => p.str,
    handler: ({ sim, params }) => {
      requireNode(sim, params.node!);
      return agentCommands.map((name) => ({ name }));
    },
  },
  ...Object.entries(answers).map(
    ([name, handler]): Route => ({
      method: name === 'ping' ? 'POST' : 'GET',
      path: `/nodes/{node}/qemu/{vmid}/agent/${name}`,
      params: base,
      handler,
    }),
  ),
  {
    method: 'POST',
    path: '/nodes/{node}/qemu/{vmid}/agent',
    params: { ...base, command: { type: 'string', enum: Object.keys(answers) } },
    handler: (ctx) => answers[ctx.params.command!]!(ctx),
  },
];
