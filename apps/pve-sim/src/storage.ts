/**
 * Volumes on simulated storages. Every allocation, clone and free takes the storage's flock (10 s
 * timeout) as pve-storage does for local storages, and full clones hold it while copying — which
 * is why too many parallel full clones on one storage time out.
 */
import { fail } from './errors';
import { LockTable, storageLockPath, withLock } from './locks';
import type { Simulator } from './sim';
import type { Storage, Vm } from './state/types';
import { bytesToSize, disksOf } from './state/vm-config';
import type { TaskLog } from './tasks';

export function findStorage(sim: Simulator, node: string, storageId: string): Storage {
  const storage = sim.state.storages[`${node}/${storageId}`];
  if (!storage) fail(`storage '${storageId}' does not exist`);
  return storage;
}

/**
 * Space a storage's volumes take: full volumes their size, linked clones (thin snapshots of a
 * base volume) only what they grew beyond their base.
 */
export function usedBytes(storage: Storage): number {
  let used = 0;
  for (const volume of Object.values(storage.volumes)) {
    const base = volume.baseOf ? storage.volumes[volume.baseOf] : undefined;
    used += volume.baseOf ? Math.max(0, volume.sizeBytes - (base?.sizeBytes ?? volume.sizeBytes)) : volume.sizeBytes;
  }
  return used;
}

/** Splits `local-lvm:vm-101-disk-0` into storage id and volume name. */
export function splitVolid(volid: string): { storage: string; name: string } {
  const colon = volid.indexOf(':');
  return { storage: volid.slice(0, colon), name: volid.slice(colon + 1) };
}

function nextDiskName(storage: Storage, vmid: number): string {
  for (let n = 0; ; n++) {
    const name = `vm-${vmid}-disk-${n}`;
    if (!storage.volumes[name]) return name;
  }
}

/**
 * A local storage's flock is a file in the node's own /var/lock: two nodes' `local-lvm` never wait
 * for each other. (A shared storage's cluster-wide cfs lock would be one for every node.)
 */
const nodeLocks = new WeakMap<Simulator, Map<string, LockTable>>();

function storageLocks(sim: Simulator, storage: Storage): LockTable {
  if (storage.shared) return sim.locks;
  let byNode = nodeLocks.get(sim);
  if (!byNode) {
    byNode = new Map();
    nodeLocks.set(sim, byNode);
  }
  let table = byNode.get(storage.node);
  if (!table) {
    table = new LockTable();
    byNode.set(storage.node, table);
  }
  return table;
}

function lockStorage<T>(sim: Simulator, storage: Storage, fn: () => Promise<T>): Promise<T> {
  const locks = storageLocks(sim, storage);
  return withLock(locks, storageLockPath(storage.storage), 'exclusive', sim.clock.ms('storageLockTimeout'), fn);
}

/** Allocates a new disk (or the VM's cloud-init drive); returns its volume id. */
export async function allocateVolume(
  sim: Simulator,
  node: string,
  storageId: string,
  vmid: number,
  sizeBytes: number,
  kind: 'disk' | 'cloudinit' = 'disk',
): Promise<string> {
  const storage = findStorage(sim, node, storageId);
  if (!storage.content.includes('images')) fail(`storage '${storageId}' does not support vm images`);
  return lockStorage(sim, storage, async () => {
    await sim.clock.sleep('diskAllocate', { taskWork: true });
    const name = kind === 'cloudinit' ? `vm-${vmid}-cloudinit` : nextDiskName(storage, vmid);
    storage.volumes[name] = { vmid, sizeBytes };
    return `${storageId}:${name}`;
  });
}

/** Copies (full) or links (linked clone of a base volume) one disk for `newid`; returns the new volume id. */
export async function cloneVolume(
  sim: Simulator,
  node: string,
  sourceVolid: string,
  newid: number,
  mode: 'full' | 'linked',
  targetStorage?: string,
): Promise<string> {
  const source = splitVolid(sourceVolid);
  const storage = findStorage(sim, node, mode === 'full' ? (targetStorage ?? source.storage) : source.storage);
  const sourceVolume = findStorage(sim, node, source.storage).volumes[source.name];
  const sizeBytes = sourceVolume?.sizeBytes ?? 0;
  return lockStorage(sim, storage, async () => {
    await sim.clock.sleep(mode === 'full' ? 'fullClonePerDisk' : 'diskAllocate', { taskWork: true });
    const name = nextDiskName(storage, newid);
    storage.volumes[name] =
      mode === 'linked' ? { vmid: newid, sizeBytes, baseOf: source.name } : { vmid: newid, sizeBytes };
    return `${storage.storage}:${name}`;
  });
}

/** Renames a VM's disks to base volumes when it becomes a template (lvmthin `create_base`). */
export async function convertToBase(sim: Simulator, vm: Vm, log: (line: string) => void): Promise<void> {
  for (const disk of disksOf(vm.config)) {
    if (disk.cloudinit) continue;
    const { storage: storageId, name } = splitVolid(disk.volid);
    if (!name.startsWith('vm-')) continue;
    const storage = findStorage(sim, vm.node, storageId);
    await lockStorage(sim, storage, async () => {
      const baseName = name.replace(/^vm-/, 'base-');
      const volume = storage.volumes[name];
      delete storage.volumes[name];
      storage.volumes[baseName] = volume ?? { vmid: vm.vmid, sizeBytes: disk.sizeBytes };
      log(`  Renamed "${name}" to "${baseName}" in volume group "pve"`);
      vm.config[disk.key] = vm.config[disk.key]!.replace(disk.volid, `${storageId}:${baseName}`);
    });
  }
}

/** Frees every volume a VM owns; refuses while linked clones still use one of its base volumes. */
export async function freeVolumes(sim: Simulator, vm: Vm): Promise<void> {
  for (const storage of Object.values(sim.state.storages)) {
    if (storage.node !== vm.node) continue;
    const owned = Object.keys(storage.volumes).filter((name) => storage.volumes[name]!.vmid === vm.vmid);
    if (owned.length === 0) continue;
    const inUse = owned.find((name) => Object.values(storage.volumes).some((v) => v.baseOf === name));
    if (inUse) fail(`base volume '${storage.storage}:${inUse}' is still in use by linked cloned`);
    await lockStorage(sim, storage, async () => {
      for (const name of owned) delete storage.volumes[name];
    });
  }
}

/** `size=2252M` text for a volume's current size. */
export function volumeSizeText(sim: Simulator, node: string, volid: string): string {
  const { storage, name } = splitVolid(volid);
  const volume = sim.state.storages[`${node}/${storage}`]?.volumes[name];
  return bytesToSize(volume?.sizeBytes ?? 0);
}

const MiB = 1024 ** 2;
const extentBytes = 4 * MiB;

/** LVM's size wording: `2.20 GiB`, `512.00 MiB`. */
function lvmSize(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / MiB).toFixed(2)} MiB`;
}

/**
 * Grows a volume as `lvextend` does under the storage lock, logging LVM's lines. The simulator
 * counts sizes as allocated, so growth beyond the storage's free space fails the way a full
 * volume group does.
 */
export async function growVolume(sim: Simulator, node: string, volid: string, newBytes: number, log: TaskLog) {
  const { storage: storageId, name } = splitVolid(volid);
  const storage = findStorage(sim, node, storageId);
  const volume = storage.volumes[name];
  if (!volume) fail(`no such volume '${volid}'`);
  const path = `/dev/pve/${name}`;
  await lockStorage(sim, storage, async () => {
    await sim.clock.sleep('diskAllocate', { taskWork: true });
    const extents = (bytes: number) => Math.ceil(bytes / extentBytes);
    const needed = extents(newBytes) - extents(volume.sizeBytes);
    const available = Math.floor((storage.totalBytes - usedBytes(storage)) / extentBytes);
    if (needed > available) {
      log(`  Insufficient free space: ${needed} extents needed, but only ${available} available`);
      fail(
        `error resizing volume '${path}': command '/sbin/lvextend -L ${Math.round(newBytes / MiB)}M ${path}' failed: exit code 5`,
      );
    }
    log(
      `  Size of logical volume pve/${name} changed from ${lvmSize(volume.sizeBytes)} (${extents(volume.sizeBytes)} extents) to ${lvmSize(newBytes)} (${extents(newBytes)} extents).`,
    );
    log(`  Logical volume pve/${name} successfully resized.`);
    volume.sizeBytes = newBytes;
  });
}
