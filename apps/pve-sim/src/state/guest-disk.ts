/**
 * What a VM's disk holds as far as the simulated guest OS goes, kept in the cluster state so it is
 * saved with the state file, copied into snapshots and clones, and restored by a rollback.
 *
 * Only the guest's own changes are kept: the base image (directories, `/etc/os-release`,
 * `/etc/hostname`, the preinstalled packages' files) is rebuilt from the OS profile when the guest
 * machine is made, and `files` lists what differs from it, like an overlay filesystem's upper layer.
 * The SSH side's guest machine (ssh/guest/guest-machine.ts) writes it as the guest changes.
 */

/** A file or directory the guest wrote; `mtime` in Unix ms. */
export type GuestDiskEntry =
  | {
      type: 'file';
      /** UTF-8 text, or base64 when `encoding` says so (content that is not valid UTF-8). */
      content: string;
      encoding?: 'base64';
      mode: number;
      owner: string;
      mtime: number;
    }
  | { type: 'dir'; mode: number; owner: string; mtime: number };

export interface GuestServiceState {
  enabled: boolean;
  active: boolean;
  masked: boolean;
}

export interface GuestDisk {
  /** The OS profile id the guest first booted as (e.g. `debian-12`), fixed for the disk's life. */
  os: string;
  /**
   * The guest's SSH host key, made at its first boot; a clone starts without one and makes its
   * own, as cloud-init does for a new instance.
   */
  hostKey?: { privateKey: string; publicKey: string };
  /** Absolute path → what the guest wrote there, or null where it deleted a base-image path. */
  files: Record<string, GuestDiskEntry | null>;
  /** Installed packages (the image's own included). */
  packages: string[];
  services: Record<string, GuestServiceState>;
  /** Kernel parameters set with `sysctl -w` / `sysctl -p` (`net.ipv4.ip_forward` makes it a router). */
  kernelParameters: Record<string, string>;
  /**
   * The guest's own changes to its main routing table (`ip route add|replace|del`), over the routes
   * its NICs' configuration gives; absent in state files written before routes were kept.
   */
  routes?: GuestRouteEntry[];
}

/**
 * One change the guest made to its routing table: a route it added (or replaced one with), or,
 * with `deleted`, a route of its configuration (a connected network, a default route) it removed.
 */
export interface GuestRouteEntry {
  /** `default` or a network in normal form (`10.31.0.0/24`; a host is `/32`). */
  destination: string;
  /** The interface's name in the guest (`ens18`). */
  dev: string;
  /** The gateway; absent for a route straight onto the link. */
  via?: string;
  /** Absent means 0. */
  metric?: number;
  /** iproute2's protocol; absent means `boot`, what `ip route add` sets (and does not print). */
  proto?: string;
  /** A route of the configuration that `ip route del` took away (only destination, dev, metric count). */
  deleted?: true;
}

/** A deep copy, for a snapshot or a rollback (the copy shares nothing with the original). */
export function copyGuestDisk(disk: GuestDisk): GuestDisk {
  return structuredClone(disk);
}

/** The disk a clone starts from: the source's contents, without its host key. */
export function guestDiskForClone(disk: GuestDisk): GuestDisk {
  const copy = copyGuestDisk(disk);
  delete copy.hostKey;
  return copy;
}
