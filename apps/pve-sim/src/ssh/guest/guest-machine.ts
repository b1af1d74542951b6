/**
 * The inside of one simulated VM: its filesystem, installed packages and services, its SSH host
 * key, and the record of everything done to it. Lives as long as the VM exists (survives reboots).
 */
import { generateEd25519 } from '../server/keys';
import { homeOf, Shell } from '../shell/interpreter';
import type { VirtualFile } from '../shell/virtual-fs';
import { VirtualFs } from '../shell/virtual-fs';
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
  /** What tells this machine from a later VM under the same id: its SMBIOS uuid. */
  smbiosUuid: string;
  os: GuestOsProfile;
  hostname: string;
  /** The cloud-init user. */
  user: string;
}

export interface ServiceState {
  enabled: boolean;
  active: boolean;
  masked: boolean;
}

/** Packages every cloud image ships with (so `apt-get install openssh-server` says "already the newest"). */
const preinstalled = ['openssh-server', 'cloud-init', 'sudo', 'curl', 'ca-certificates', 'systemd'];
/** Services running on a freshly booted cloud image. */
const preinstalledServices = ['ssh', 'cron', 'cloud-init', 'systemd-networkd', 'systemd-resolved', 'rsyslog'];

export class GuestMachine {
  readonly fs = new VirtualFs();
  readonly packages = new Set(preinstalled);
  readonly services = new Map<string, ServiceState>(
    preinstalledServices.map((name) => [name, { enabled: true, active: true, masked: false }]),
  );
  /** Kernel parameters set by `sysctl` (unset ones read as 0). */
  readonly kernelParameters = new Map<string, string>();
  /** The guest's SSH host key: generated once, so it stays the same across reboots. */
  readonly hostKey = generateEd25519('pve-sim-guest');

  constructor(
    readonly spec: GuestMachineSpec,
    private readonly record: (effect: GuestEffect) => void,
  ) {
    const { os, hostname, user } = spec;
    for (const dir of [
      '/etc',
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
  }

  /** Records an effect with its time. */
  note(effect: GuestEffectInput): void {
    this.record({ ...effect, at: new Date().toISOString() } as GuestEffect);
  }

  /** Writes `authorized_keys` for the cloud-init user, as cloud-init does at first boot. */
  installAuthorizedKeys(keys: string[]): void {
    this.fs.writeFile(`${homeOf(this.spec.user)}/.ssh/authorized_keys`, keys.map((key) => `${key}\n`).join(''), {
      mode: 0o600,
      owner: this.spec.user,
    });
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
