/** Finding VMs and nodes the way qemu-server does, with its error texts. */
import { ApiError, fail } from '../errors';
import type { Simulator } from '../sim';
import type { Vm } from '../state/types';

/** The node, or PVE's proxy-target resolution failure for an unknown name. */
export function requireNode(sim: Simulator, node: string): void {
  if (!sim.state.nodes[node]) {
    fail(`hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`);
  }
}

/** The VM's config on this node; like PVE, a VM on another node "does not exist" here. */
export function loadVm(sim: Simulator, node: string, vmid: string | number): Vm {
  requireNode(sim, node);
  const vm = sim.state.vms[vmid];
  if (!vm || vm.node !== node) fail(`Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
  return vm;
}

/** `VM is locked (<lock>)` while the config carries a `lock` property. */
export function assertUnlocked(vm: Vm, skiplock = false): void {
  if (vm.config.lock && !skiplock) fail(`VM is locked (${vm.config.lock})`);
}

/** `skiplock` is for root@pam only. */
export function checkSkiplock(skiplock: string | undefined, userid: string, tokenid?: string): boolean {
  if (skiplock === undefined) return false;
  if (userid !== 'root@pam' || tokenid) {
    throw new ApiError(400, 'Parameter verification failed.', { skiplock: 'Only root may use this option.' });
  }
  return skiplock === '1';
}
