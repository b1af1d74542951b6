/** The Proxmox node as seen over SSH: a root shell with PVE's CLIs over a small virtual filesystem. */
import type { Simulator } from '../../sim';
import { type CliCommand, type CliContext, runCliProgram } from '../cli/program';
import { pveFirewallCommands } from '../cli/pve-firewall';
import { pveshCommands } from '../cli/pvesh';
import { pvesmCommands } from '../cli/pvesm';
import { pveumCommands } from '../cli/pveum';
import { qmCommands } from '../cli/qm';
import type { DiskProvenance } from '../provenance';
import { builtins } from '../shell/builtins';
import { fileCommands } from '../shell/file-commands';
import { type Command, Shell } from '../shell/interpreter';
import { simulatedTime, sleepCommand } from '../shell/sleep';
import { textCommands } from '../shell/text-commands';
import { VirtualFs } from '../shell/virtual-fs';
import { clusterSsh } from './cluster-ssh';
import { curl, wget } from './downloads';
import { mountNodeKnownHosts } from './known-hosts';
import { mountVmConfigs } from './pmxcfs';

/** What `pveversion` prints (PVE 8.4, as the API's /version reports). */
const PVE_VERSION = 'pve-manager/8.4.14/b502d23c55afcba1 (running kernel: 6.8.12-9-pve)';

/** The directories a fresh PVE 8 node has that template scripts use, and its live `/etc/pve` views. */
export function createNodeFilesystem(sim: Simulator, node: string): VirtualFs {
  const fs = new VirtualFs();
  for (const dir of [
    '/root',
    '/tmp',
    '/etc/pve/local',
    '/var/lib/vz/template/iso',
    '/var/lib/vz/template/cache',
    '/var/lib/vz/images',
    '/var/lib/vz/snippets',
    '/var/lib/vz/dump',
  ]) {
    fs.mkdir(dir, { recursive: true });
  }
  fs.writeFile('/etc/hostname', `${node}\n`);
  fs.writeFile(
    '/etc/os-release',
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
  );
  fs.writeFile(
    '/etc/pve/storage.cfg',
    'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup,snippets\n\nlvmthin: local-lvm\n\tthinpool data\n\tvgname pve\n\tcontent rootdir,images\n',
  );
  mountVmConfigs(fs, sim, node);
  mountNodeKnownHosts(fs, sim);
  return fs;
}

function program(name: string, commands: CliCommand[], context: Omit<CliContext, 'shell'>): Command {
  return ({ argv, shell }) => runCliProgram(name, commands, argv.slice(1), { ...context, shell });
}

/** The command table of the node's shell. */
export function nodeCommands(sim: Simulator, node: string, provenance: DiskProvenance): Record<string, Command> {
  const context = { sim, node, provenance };
  return {
    ...builtins,
    ...fileCommands,
    ...textCommands,
    wget,
    curl,
    qm: program('qm', qmCommands, context),
    pveum: program('pveum', pveumCommands, context),
    pvesm: program('pvesm', pvesmCommands, context),
    pvesh: program('pvesh', pveshCommands, context),
    'pve-firewall': program('pve-firewall', pveFirewallCommands, context),
    ssh: clusterSsh(sim, (other) => {
      const host = nodeHost(sim, other, provenance);
      return nodeShell(host.fs, host.commands);
    }),
    // The node's time is the simulator's, scaled like every simulated duration.
    sleep: sleepCommand(simulatedTime(sim.clock.timeScale)),
    pveversion: () => ({ stdout: `${PVE_VERSION}\n` }),
    hostname: () => ({ stdout: `${node}\n` }),
    uname: ({ argv }) => ({
      stdout: argv.includes('-a')
        ? `Linux ${node} 6.8.12-9-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-9 x86_64 GNU/Linux\n`
        : 'Linux\n',
    }),
  };
}

/** One node as its shells see it: its filesystem and its command table. */
export interface NodeHost {
  fs: VirtualFs;
  commands: Record<string, Command>;
}

const nodeHosts = new WeakMap<Simulator, Map<string, NodeHost>>();

/**
 * The node `node` of `sim`, made on first use and kept: its SSH server and every `ssh <node>` from
 * another node's shell reach the same filesystem.
 */
export function nodeHost(sim: Simulator, node: string, provenance: DiskProvenance): NodeHost {
  let hosts = nodeHosts.get(sim);
  if (!hosts) {
    hosts = new Map();
    nodeHosts.set(sim, hosts);
  }
  let host = hosts.get(node);
  if (!host) {
    host = { fs: createNodeFilesystem(sim, node), commands: nodeCommands(sim, node, provenance) };
    hosts.set(node, host);
  }
  return host;
}

/** A root login shell on the node; every SSH channel gets its own, over the node's one filesystem. */
export function nodeShell(fs: VirtualFs, commands: Record<string, Command>): Shell {
  return new Shell({ fs, commands, user: 'root' });
}
