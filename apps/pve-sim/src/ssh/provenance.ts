/**
 * Which image file each VM's disk was imported from on the node (`qm set --scsi0 …,import-from=`,
 * `qm importdisk`). The guest side reads it to know what OS a VM booted from that disk (or from a
 * linked clone of it) runs: a template built from `debian-12-genericcloud-amd64.qcow2` is Debian.
 */
export class DiskProvenance {
  private readonly sources = new Map<number, string>();

  record(vmid: number, source: string): void {
    this.sources.set(vmid, source);
  }

  sourceOf(vmid: number): string | undefined {
    return this.sources.get(vmid);
  }
}
