/**
 * Which image file each VM's disk was imported from on the node (`qm set --scsi0 …,import-from=`,
 * `qm importdisk`). The guest side reads it to know what OS a VM booted from that disk (or from a
 * linked clone of it) runs: a template built from `debian-12-genericcloud-amd64.qcow2` is Debian.
 * Kept on the VM's record in the state (`importedFrom`), so it is saved with the state file and goes
 * when the VM is destroyed.
 */
import type { Simulator } from '../sim';

export class DiskProvenance {
  constructor(private readonly sim: Simulator) {}

  record(vmid: number, source: string): void {
    const vm = this.sim.state.vms[vmid];
    if (vm) vm.importedFrom = source;
  }

  sourceOf(vmid: number): string | undefined {
    return this.sim.state.vms[vmid]?.importedFrom;
  }
}
