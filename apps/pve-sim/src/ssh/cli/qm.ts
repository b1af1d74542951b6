/** `qm` (qemu-server's CLI): each sub-command maps onto the same API handler, as qm.pm declares. */
import type { CommandOutcome } from '../shell/interpreter';
import { perlPrettyJson } from './format';
import type { OptionSpec } from './options';
import { type CliCommand, type CliContext, callApi, followTask } from './program';
import { qmConfigCommands } from './qm-config';

interface VmListEntry {
  vmid: number;
  name?: string;
  status: string;
  qmpstatus?: string;
  maxmem?: number;
  maxdisk?: number;
  pid?: number;
}

const vmPath = (context: CliContext, vmid: string | undefined) => `/nodes/${context.node}/qemu/${vmid}`;

/** `qm list`: PVE's fixed-width table, no output at all when there are no VMs. */
async function listVms(context: CliContext, options: Record<string, string>): Promise<CommandOutcome> {
  const vms = (await callApi(context, 'GET', `/nodes/${context.node}/qemu`, options)) as VmListEntry[];
  if (vms.length === 0) return {};
  const row = (cells: string[]) =>
    `${cells[0]!.padStart(10)} ${cells[1]!.padEnd(20)} ${cells[2]!.padEnd(10)} ${cells[3]!.padEnd(10)} ${cells[4]!.padStart(12)} ${cells[5]!.padEnd(10)}\n`;
  let out = row(['VMID', 'NAME', 'STATUS', 'MEM(MB)', 'BOOTDISK(GB)', 'PID']);
  for (const vm of [...vms].sort((a, b) => a.vmid - b.vmid)) {
    out += row([
      String(vm.vmid),
      vm.name ?? `VM ${vm.vmid}`,
      vm.qmpstatus ?? vm.status,
      String(Math.floor((vm.maxmem ?? 0) / 1024 ** 2)),
      ((vm.maxdisk ?? 0) / 1024 ** 3).toFixed(2),
      String(vm.pid ?? 0),
    ]);
  }
  return { stdout: out };
}

/** `key: value` lines, sorted, without the digest: how `qm config` and `qm status --verbose` print. */
function keyValueLines(data: Record<string, unknown>): string {
  return Object.keys(data)
    .filter((key) => key !== 'digest')
    .sort()
    .map((key) => {
      const value = data[key];
      return `${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}\n`;
    })
    .join('');
}

/** A sub-command that is one task-returning API call (`qm start`, `qm clone`, `qm template` …). */
function taskCommand(
  words: string[],
  spec: OptionSpec,
  method: 'POST' | 'PUT' | 'DELETE',
  path: (context: CliContext, positional: Record<string, string>) => string,
  extraParams: (positional: Record<string, string>) => Record<string, string> = () => ({}),
): CliCommand {
  return {
    words,
    spec,
    async run(context, { positional, options }) {
      const upid = await callApi(context, method, path(context, positional), {
        ...options,
        ...extraParams(positional),
      });
      return followTask(context, upid);
    },
  };
}

const power = (action: string, options: string[], booleans: string[]) =>
  taskCommand(
    [action],
    { positional: ['vmid'], options, booleans },
    'POST',
    (context, { vmid }) => `${vmPath(context, vmid)}/status/${action}`,
  );

/** `qm guest cmd <vmid> <command>`: the agent's answer printed as Perl pretty JSON. */
async function guestCommand(context: CliContext, positional: Record<string, string>): Promise<CommandOutcome> {
  const postCommands = [
    'ping',
    'fsfreeze-freeze',
    'fsfreeze-thaw',
    'fstrim',
    'shutdown',
    'suspend-disk',
    'suspend-hybrid',
    'suspend-ram',
  ];
  const method = postCommands.includes(positional.command!) ? 'POST' : 'GET';
  const data = (await callApi(context, method, `${vmPath(context, positional.vmid)}/agent/${positional.command}`)) as {
    result?: unknown;
  } | null;
  if (data?.result === undefined) return {};
  return { stdout: `${perlPrettyJson(data.result)}\n` };
}

export const qmCommands: CliCommand[] = [
  ...qmConfigCommands,
  {
    words: ['list'],
    spec: { positional: [], options: ['full'], booleans: ['full'] },
    run: (context, { options }) => listVms(context, options),
  },
  {
    words: ['status'],
    spec: { positional: ['vmid'], options: ['verbose'], booleans: ['verbose'] },
    async run(context, { positional, options }) {
      const status = (await callApi(context, 'GET', `${vmPath(context, positional.vmid)}/status/current`)) as Record<
        string,
        unknown
      >;
      if (options.verbose === '1') return { stdout: keyValueLines(status) };
      return { stdout: `status: ${status.qmpstatus ?? status.status}\n` };
    },
  },
  {
    words: ['config'],
    spec: { positional: ['vmid'], options: ['current', 'snapshot'], booleans: ['current'] },
    async run(context, { positional, options }) {
      const config = await callApi(context, 'GET', `${vmPath(context, positional.vmid)}/config`, options);
      return { stdout: keyValueLines(config as Record<string, unknown>) };
    },
  },
  taskCommand(
    ['destroy'],
    {
      positional: ['vmid'],
      options: ['purge', 'destroy-unreferenced-disks', 'skiplock'],
      booleans: ['purge', 'destroy-unreferenced-disks', 'skiplock'],
    },
    'DELETE',
    (context, { vmid }) => vmPath(context, vmid),
  ),
  taskCommand(
    ['clone'],
    {
      positional: ['vmid', 'newid'],
      options: ['name', 'description', 'pool', 'snapname', 'storage', 'format', 'full', 'target', 'bwlimit'],
      booleans: ['full'],
    },
    'POST',
    (context, { vmid }) => `${vmPath(context, vmid)}/clone`,
    ({ newid }) => ({ newid: newid! }),
  ),
  power('start', ['timeout', 'skiplock', 'machine', 'force-cpu'], ['skiplock']),
  power(
    'stop',
    ['timeout', 'skiplock', 'keepActive', 'overrule-shutdown'],
    ['skiplock', 'keepActive', 'overrule-shutdown'],
  ),
  power('shutdown', ['timeout', 'forceStop', 'keepActive', 'skiplock'], ['forceStop', 'keepActive', 'skiplock']),
  power('reboot', ['timeout'], []),
  power('reset', ['skiplock'], ['skiplock']),
  power('suspend', ['todisk', 'skiplock', 'statestorage'], ['todisk', 'skiplock']),
  power('resume', ['skiplock', 'nocheck'], ['skiplock', 'nocheck']),
  taskCommand(
    ['template'],
    { positional: ['vmid'], options: ['disk'] },
    'POST',
    (context, { vmid }) => `${vmPath(context, vmid)}/template`,
  ),
  taskCommand(
    ['snapshot'],
    { positional: ['vmid', 'snapname'], options: ['description', 'vmstate'], booleans: ['vmstate'] },
    'POST',
    (context, { vmid }) => `${vmPath(context, vmid)}/snapshot`,
    ({ snapname }) => ({ snapname: snapname! }),
  ),
  taskCommand(
    ['rollback'],
    { positional: ['vmid', 'snapname'], options: ['start'], booleans: ['start'] },
    'POST',
    (context, { vmid, snapname }) => `${vmPath(context, vmid)}/snapshot/${snapname}/rollback`,
  ),
  taskCommand(
    ['delsnapshot'],
    { positional: ['vmid', 'snapname'], options: ['force'], booleans: ['force'] },
    'DELETE',
    (context, { vmid, snapname }) => `${vmPath(context, vmid)}/snapshot/${snapname}`,
  ),
  {
    ...taskCommand(
      ['disk', 'resize'],
      { positional: ['vmid', 'disk', 'size'], options: ['digest', 'skiplock'], booleans: ['skiplock'] },
      'PUT',
      (context, { vmid }) => `${vmPath(context, vmid)}/resize`,
      ({ disk, size }) => ({ disk: disk!, size: size! }),
    ),
    aliases: [['resize']],
  },
  {
    words: ['guest', 'cmd'],
    aliases: [['agent']],
    spec: { positional: ['vmid', 'command'], options: [] },
    run: (context, { positional }) => guestCommand(context, positional),
  },
  {
    words: ['unlock'],
    spec: { positional: ['vmid'], options: [] },
    async run(context, { positional }) {
      await callApi(context, 'PUT', `${vmPath(context, positional.vmid)}/config`, { delete: 'lock', skiplock: '1' });
      return {};
    },
  },
];
