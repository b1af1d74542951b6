/**
 * The parts of `/etc/pve` (pmxcfs) scripts read on a node: each VM's `qemu-server/<vmid>.conf`,
 * rendered from the simulator's live state in PVE's config file format.
 */
import type { Simulator } from '../../sim';
import type { VirtualFs } from '../shell/virtual-fs';

function renderSection(config: Record<string, string>): string {
  const description = config.description
    ? decodeURIComponent(config.description)
        .split('\n')
        .map((line) => `#${line}\n`)
        .join('')
    : '';
  const lines = Object.keys(config)
    .filter((key) => key !== 'description' && key !== 'digest')
    .sort()
    .map((key) => `${key}: ${config[key]}\n`);
  return description + lines.join('');
}

/** A VM's `.conf`: its current config, then one `[snapshot]` section per snapshot. */
function renderVmConfig(vm: Simulator['state']['vms'][string]): string {
  let text = renderSection(vm.parent ? { ...vm.config, parent: vm.parent } : vm.config);
  for (const snapshot of Object.values(vm.snapshots)) {
    const config: Record<string, string> = { ...snapshot.config, snaptime: String(snapshot.snaptime) };
    if (snapshot.parent) config.parent = snapshot.parent;
    text += `\n[${snapshot.name}]\n${renderSection(config)}`;
  }
  return text;
}

/** Mounts the VM configs of `node` at `/etc/pve/nodes/<node>/qemu-server` and `/etc/pve/qemu-server`. */
export function mountVmConfigs(fs: VirtualFs, sim: Simulator, node: string): void {
  const configs = () =>
    Object.fromEntries(
      Object.values(sim.state.vms)
        .filter((vm) => vm.node === node)
        .map((vm) => [`${vm.vmid}.conf`, renderVmConfig(vm)]),
    );
  fs.mountGenerated(`/etc/pve/nodes/${node}/qemu-server`, configs);
  fs.mountGenerated('/etc/pve/qemu-server', configs);
}
