import type { OsName } from '@glassdome/lab';

/**
 * Where each OS's cloud image comes from, and the template's name. Adding an OS is adding a row here
 * and in @glassdome/lab's OS_PROFILES (default user, sizes, package manager).
 */
export const OS_IMAGES: Readonly<Record<OsName, { url: string; templateName: string; defaultVmid: number }>> = {
  'ubuntu-22.04': {
    url: 'https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img',
    templateName: 'ubuntu-2204-tmpl',
    defaultVmid: 9000,
  },
  'ubuntu-24.04': {
    url: 'https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img',
    templateName: 'ubuntu-2404-tmpl',
    defaultVmid: 9001,
  },
  'debian-12': {
    url: 'https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2',
    templateName: 'debian-12-tmpl',
    defaultVmid: 9002,
  },
  kali: {
    url: 'https://kali.download/cloud-images/current/kali-linux-current-cloud-genericcloud-amd64.tar.xz',
    templateName: 'kali-tmpl',
    defaultVmid: 9003,
  },
};
