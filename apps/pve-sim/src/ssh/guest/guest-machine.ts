/**
 * The inside of one simulated VM: its filesystem, installed packages and services, its SSH host
 * key, and the record of everything done to it. What it keeps lives in the VM's disk record
 * (`vm.guest` in the cluster state), so it survives reboots, a simulator restart (with the state
 * file), and follows snapshots, rollbacks and clones; this object is rebuilt from that record.
 */
import type { GuestDisk, GuestServiceState } from '../../state/guest-disk';
import { generateEd25519 } from '../server/keys';
import { homeOf, Shell } from '../shell/interpreter';
import type { VirtualFile } from '../shell/virtual-fs';
import { VirtualFs } from '../shell/virtual-fs';
import { attachDiskFiles, RecordedMap, RecordedSet } from './disk-overlay';
import type { GuestOsProfile } from './os-profiles';

/** What the guest records through `Simulator.recordGuestEffect`, shown by the sim's admin endpoint. */
export type GuestEffect =
  | { kind: 'command'; user: string; command: string; exitCode: number; at: string }
  | { kind: 'package-installed'; name: string; at: string }
  | { kind: 'package-removed'; name: string; at: string }
  | { kind: 'file-written'; path: string; content: string; mode: string; owner: string; at: string }
  | {
      kind: 'service';
      name: string;
      action: 'enable' | 'disable' | 'start' | 'stop' | 'restart' | 'mask' | 'unmask';
      at: string;
    };

/** Distributive Omit, so each effect variant keeps its own fields. */
export type GuestEffectInput = GuestEffect extends infer E ? (E extends GuestEffect ? Omit<E, 'at'> : never) : never;

/** Who a guest machine is: fixed for its lifetime. */
export interface GuestMachineSpec {
  vmid: number;
  /** The VM's SMBIOS uuid when the machine was made. */
  smbiosUuid: string;
  os: GuestOsProfile;
  hostname: string;
  /** The cloud-init user. */
  user: string;
}

export type ServiceState = GuestServiceState;

/** Packages every cloud image ships with (so `apt-get install openssh-server` says "already the newest"). */
const preinstalled = ['openssh-server', 'cloud-init', 'sudo', 'curl', 'ca-certificates', 'systemd'];
/** Services running on a freshly booted cloud image. */
const preinstalledServices = ['ssh', 'cron', 'cloud-init', 'systemd-networkd', 'systemd-resolved', 'rsyslog'];

export class GuestMachine {
  readonly fs = new VirtualFs();
  readonly packages: Set<string>;
  readonly services: Map<string, ServiceState>;
  /** Kernel parameters set by `sysctl` (unset ones read as 0). */
  readonly kernelParameters: Map<string, string>;
  /** The guest's SSH host key: made at first boot and kept on its disk. */
  readonly hostKey: { privateKey: string; publicKey: string };

  /** A disk as a cloud image has it before its first boot: nothing written, the image's packages and services. */
  static freshDisk(os: GuestOsProfile): GuestDisk {
    return {
      os: os.id,
      files: {},
      packages: [...preinstalled],
      services: Object.fromEntries(
        preinstalledServices.map((name) => [name, { enabled: true, active: true, masked: false }]),
      ),
      kernelParameters: {},
    };
  }

  /**
   * Boots the machine from `disk`, which it then keeps up to date (the base image is rebuilt, the
   * disk's changes laid over it). A disk without a host key gets one, as at a first boot.
   */
  constructor(
    readonly spec: GuestMachineSpec,
    private readonly record: (effect: GuestEffect) => void,
    readonly disk: GuestDisk = GuestMachine.freshDisk(spec.os),
  ) {
    const { os, hostname, user } = spec;
    disk.hostKey ??= generateEd25519(`root@${hostname}`);
    this.hostKey = disk.hostKey;
    for (const dir of [
      '/etc/ssh',
      '/tmp',
      '/var/tmp',
      '/var/log',
      '/var/lib/cloud/instance',
      '/root',
      '/usr/local/bin',
      '/opt',
      '/srv',
    ]) {
      this.fs.mkdir(dir, { recursive: true });
    }
    this.fs.chmod('/tmp', 0o1777);
    this.fs.mkdir(`${homeOf(user)}/.ssh`, { recursive: true, owner: user, mode: 0o700 });
    this.fs.writeFile('/etc/os-release', os.osRelease);
    this.fs.writeFile('/etc/hostname', `${hostname}\n`);
    this.fs.writeFile('/var/lib/cloud/instance/boot-finished', 'cloud-init finished\n');
    // sshd's host key files, from the key the disk record keeps (so they are not saved twice).
    this.fs.writeFile('/etc/ssh/ssh_host_ed25519_key', this.hostKey.privateKey, { mode: 0o600 });
    this.fs.writeFile('/etc/ssh/ssh_host_ed25519_key.pub', `${this.hostKey.publicKey}\n`);
    attachDiskFiles(this.fs, disk);
    this.packages = new RecordedSet(disk.packages);
    this.services = new RecordedMap(disk.services);
    this.kernelParameters = new RecordedMap(disk.kernelParameters);
  }

  /** Records an effect with its time. */
  note(effect: GuestEffectInput): void {
    this.record({ ...effect, at: new Date().toISOString() } as GuestEffect);
  }

  /**
   * Puts the cloud-init user's configured keys into its `authorized_keys`, as cloud-init does at
   * boot: keys already there (added later by someone over SSH, say) stay, so they survive a reboot
   * and sshd keeps accepting them; a rollback brings back the file as the snapshot held it.
   */
  installAuthorizedKeys(keys: string[]): void {
    const present = this.authorizedKeys();
    const missing = keys.map((key) => key.trim()).filter((key) => key && !present.includes(key));
    const lines = [...present, ...missing];
    this.fs.writeFile(this.authorizedKeysPath(), lines.map((key) => `${key}\n`).join(''), {
      mode: 0o600,
      owner: this.spec.user,
    });
  }

  /** The key lines of the cloud-init user's `authorized_keys` as the guest's disk holds them now. */
  authorizedKeys(): string[] {
    const file = this.fs.stat(this.authorizedKeysPath());
    if (file?.type !== 'file') return [];
    return file.content
      .toString()
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
  }

  private authorizedKeysPath(): string {
    return `${homeOf(this.spec.user)}/.ssh/authorized_keys`;
  }

  /** A login shell for `user` with the guest's commands. */
  shell(user: string, commands: Shell['options']['commands']): Shell {
    return new Shell({
      fs: this.fs,
      user,
      commands,
      mayWrite: mayWrite,
      onFileChanged: (path, file) => this.noteFile(path, file),
    });
  }

  private noteFile(path: string, file: VirtualFile) {
    this.note({
      kind: 'file-written',
      path,
      content: file.content.toString(),
      mode: `0${file.mode.toString(8)}`,
      owner: file.owner,
    });
  }
}

/** Root writes anywhere; a user only under their home and the temp directories. */
function mayWrite(user: string, path: string): boolean {
  if (user === 'root') return true;
  return [homeOf(user), '/tmp', '/var/tmp'].some((dir) => path === dir || path.startsWith(`${dir}/`));
}
