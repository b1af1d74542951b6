/**
 * `PUT /nodes/{node}/qemu/{vmid}/resize`: on PVE 8 a `resize` task. Only the permission and
 * `skiplock` are checked before the UPID is returned; everything else (the disk, cdroms,
 * shrinking, the storage's room) fails inside the task, as qemu-server's worker does.
 */
import { fail } from '../errors';
import { vmLockPath, withLock } from '../locks';
import { requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { configDigest, parseDisk, parseProperties } from '../state/vm-config';
import { growVolume, splitVolid } from '../storage';
import { p } from '../validate';
import { assertUnlocked, checkSkiplock, loadVm, requireNode } from './vm-access';

/** Drive keys qemu-server knows (valid_drive_names), in its order. */
const driveNames = [
  ...Array.from({ length: 4 }, (_, i) => `ide${i}`),
  ...Array.from({ length: 31 }, (_, i) => `scsi${i}`),
  ...Array.from({ length: 16 }, (_, i) => `virtio${i}`),
  ...Array.from({ length: 6 }, (_, i) => `sata${i}`),
  'efidisk0',
  'tpmstate0',
];

const units: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** pve-common's format_size: the largest unit that divides the size exactly (`3276M`, `20G`), else bytes. */
export function formatSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K']) {
    if (bytes % units[unit]! === 0) return `${bytes / units[unit]!}${unit}`;
  }
  return String(bytes);
}

function resizeDisk({ sim, params, who }: HandlerContext) {
  requireNode(sim, params.node!);
  requirePrivileges(sim.state, who, `/vms/${params.vmid}`, ['VM.Config.Disk']);
  const skiplock = checkSkiplock(params.skiplock, who.userid, who.tokenid);
  const disk = params.disk!;
  return sim.tasks.start(params.node!, 'resize', params.vmid!, who, (log) =>
    withLock(sim.locks, vmLockPath(Number(params.vmid)), 'exclusive', sim.clock.ms('vmLockTimeout'), async () => {
      const vm = loadVm(sim, params.node!, params.vmid!);
      if (params.digest && params.digest !== configDigest(vm.config)) {
        fail('checksum mismatch (file change by other user?)');
      }
      assertUnlocked(vm, skiplock);
      const value = vm.config[disk];
      if (!value) fail(`disk '${disk}' does not exist`);
      if (parseProperties(value, 'file').media === 'cdrom') fail("you can't resize a cdrom");
      const drive = parseDisk(value);
      if (!drive) fail(`disk '${disk}' has no associated volume`);
      const { storage, name } = splitVolid(drive.volid);
      requirePrivileges(sim.state, who, `/storage/${storage}`, ['Datastore.AllocateSpace']);
      const current = sim.state.storages[`${vm.node}/${storage}`]?.volumes[name]?.sizeBytes;
      if (current === undefined) fail(`Could not determine current size of volume '${drive.volid}'`);
      const [, plus, amount, unit] = /^(\+)?(\d+(?:\.\d+)?)([KMGT])?$/.exec(params.size!)!;
      let newBytes = Number(amount) * (unit ? units[unit]! : 1);
      if (plus) newBytes += current;
      newBytes = Math.floor(newBytes);
      if (newBytes < current) fail('shrinking disks is not supported');
      if (newBytes === current) return;
      await growVolume(sim, vm.node, drive.volid, newBytes, log);
      const sized = formatSize(newBytes);
      vm.config[disk] = /(^|,)size=[^,]*/.test(value)
        ? value.replace(/(^|,)size=[^,]*/, `$1size=${sized}`)
        : `${value},size=${sized}`;
    }),
  );
}

export const qemuResizeRoutes: Route[] = [
  {
    method: 'PUT',
    path: '/nodes/{node}/qemu/{vmid}/resize',
    params: {
      node: p.node,
      vmid: p.vmid,
      skiplock: p.bool,
      disk: { type: 'string', enum: driveNames },
      size: { type: 'string', pattern: /\+?\d+(\.\d+)?[KMGT]?/ },
      digest: { type: 'string', optional: true, maxLength: 40 },
    },
    handler: resizeDisk,
  },
];
