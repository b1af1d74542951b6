/**
 * The guest operating systems the simulator can pretend to be, and how a VM's OS is recognised:
 * from its own name/tags/description, else from the template its disk was linked-cloned from.
 */
import type { Simulator } from '../../sim';
import { disksOf } from '../../state/vm-config';
import { splitVolid } from '../../storage';

export type GuestOsId = 'ubuntu-22.04' | 'ubuntu-24.04' | 'debian-12' | 'kali';

export interface GuestOsProfile {
  id: GuestOsId;
  /** `/etc/os-release` as the distribution ships it. */
  osRelease: string;
  /** Kernel release and version for `uname`. */
  kernelRelease: string;
  kernelVersion: string;
  /** Suite names for `apt-get update` lines. */
  aptSource: string;
}

const ubuntuUrls =
  'HOME_URL="https://www.ubuntu.com/"\nSUPPORT_URL="https://help.ubuntu.com/"\nBUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"\nPRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"\n';

export const guestOsProfiles: Record<GuestOsId, GuestOsProfile> = {
  'ubuntu-22.04': {
    id: 'ubuntu-22.04',
    osRelease: `PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n${ubuntuUrls}UBUNTU_CODENAME=jammy\n`,
    kernelRelease: '5.15.0-105-generic',
    kernelVersion: '#115-Ubuntu SMP Mon Apr 15 09:52:04 UTC 2024',
    aptSource: 'http://archive.ubuntu.com/ubuntu jammy',
  },
  'ubuntu-24.04': {
    id: 'ubuntu-24.04',
    osRelease: `PRETTY_NAME="Ubuntu 24.04 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION="24.04 LTS (Noble Numbat)"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n${ubuntuUrls}UBUNTU_CODENAME=noble\nLOGO=ubuntu-logo\n`,
    kernelRelease: '6.8.0-31-generic',
    kernelVersion: '#31-Ubuntu SMP PREEMPT_DYNAMIC Sat Apr 20 00:40:06 UTC 2024',
    aptSource: 'http://archive.ubuntu.com/ubuntu noble',
  },
  'debian-12': {
    id: 'debian-12',
    osRelease:
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL="https://www.debian.org/"\nSUPPORT_URL="https://www.debian.org/support"\nBUG_REPORT_URL="https://bugs.debian.org/"\n',
    kernelRelease: '6.1.0-21-cloud-amd64',
    kernelVersion: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.90-1 (2024-05-03)',
    aptSource: 'http://deb.debian.org/debian bookworm',
  },
  kali: {
    id: 'kali',
    osRelease:
      'PRETTY_NAME="Kali GNU/Linux Rolling"\nNAME="Kali GNU/Linux"\nVERSION_ID="2024.2"\nVERSION="2024.2"\nVERSION_CODENAME=kali-rolling\nID=kali\nID_LIKE=debian\nHOME_URL="https://www.kali.org/"\nSUPPORT_URL="https://forums.kali.org/"\nBUG_REPORT_URL="https://bugs.kali.org/"\nANSI_COLOR="1;31"\n',
    kernelRelease: '6.8.11-amd64',
    kernelVersion: '#1 SMP PREEMPT_DYNAMIC Kali 6.8.11-1kali2 (2024-05-30)',
    aptSource: 'http://http.kali.org/kali kali-rolling',
  },
};

/** Which OS a piece of text (a name, tag list or image file name) names, if any. */
export function osNamedIn(text: string): GuestOsId | undefined {
  const lower = text.toLowerCase();
  // Bare version digits only count next to the distribution's name: descriptions carry UUIDs.
  if (lower.includes('kali')) return 'kali';
  if (/debian|bookworm/.test(lower)) return 'debian-12';
  if (/noble|ubuntu[-_ ]?24\.?04|\b24\.04\b/.test(lower)) return 'ubuntu-24.04';
  if (/jammy|ubuntu/.test(lower)) return 'ubuntu-22.04';
  return undefined;
}

function describe(config: Record<string, string>, image: string | undefined): string {
  return [config.tags, config.name, config.description, image].filter(Boolean).join(' ');
}

/**
 * The OS of a VM: named by its own config or the image its disk was imported from, else by the
 * template whose base volume its disks use (a linked clone of `ubuntu-2404-tmpl`, or of a template
 * imported from `noble-server-cloudimg-amd64.img`, is Ubuntu 24.04); Ubuntu 22.04 otherwise.
 */
export function detectGuestOs(
  sim: Simulator,
  vmid: number,
  imageOf: (vmid: number) => string | undefined = () => undefined,
): GuestOsProfile {
  const vm = sim.state.vms[vmid];
  if (!vm) return guestOsProfiles['ubuntu-22.04'];
  const own = osNamedIn(describe(vm.config, imageOf(vmid)));
  if (own) return guestOsProfiles[own];
  // Only the VM's own disks can be linked to a base volume: look those up, not every volume.
  for (const disk of disksOf(vm.config)) {
    const { storage, name } = splitVolid(disk.volid);
    const volume = sim.state.storages[`${vm.node}/${storage}`]?.volumes[name];
    const baseVmid = volume?.vmid === vmid ? /^base-(\d+)-/.exec(volume.baseOf ?? '')?.[1] : undefined;
    const template = baseVmid ? sim.state.vms[baseVmid] : undefined;
    const inherited = template && osNamedIn(describe(template.config, imageOf(template.vmid)));
    if (inherited) return guestOsProfiles[inherited];
  }
  return guestOsProfiles['ubuntu-22.04'];
}
