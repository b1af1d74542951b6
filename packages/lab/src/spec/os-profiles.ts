import { z } from 'zod';

/** Per-OS facts the spec's defaults and checks rely on; the installer reads the same table. */
export interface OsProfile {
  /** Human name, for catalogs and UIs. */
  label: string;
  /** User the OS's cloud image creates; provisioning logs in as this user unless cloudInit.user says otherwise. */
  defaultUser: string;
  /** Package manager that cloudInit.packages go through. */
  packageManager: 'apt';
  /** Default vCPUs. */
  cpus: number;
  /** Default memory in MiB. */
  memoryMiB: number;
  /** Default disk in GiB. */
  diskGiB: number;
  /** Less memory than this and the OS does not boot usefully. */
  minMemoryMiB: number;
  /** The template's own disk: a clone can grow a disk but never shrink it. */
  minDiskGiB: number;
}

export const OS_NAMES = ['ubuntu-22.04', 'ubuntu-24.04', 'debian-12', 'kali'] as const;
export type OsName = (typeof OS_NAMES)[number];
export const osName = z.enum(OS_NAMES);

export const OS_PROFILES: Readonly<Record<OsName, OsProfile>> = {
  'ubuntu-22.04': {
    label: 'Ubuntu 22.04 LTS',
    defaultUser: 'ubuntu',
    packageManager: 'apt',
    cpus: 1,
    memoryMiB: 1024,
    diskGiB: 10,
    minMemoryMiB: 512,
    minDiskGiB: 4,
  },
  'ubuntu-24.04': {
    label: 'Ubuntu 24.04 LTS',
    defaultUser: 'ubuntu',
    packageManager: 'apt',
    cpus: 1,
    memoryMiB: 1024,
    diskGiB: 10,
    minMemoryMiB: 512,
    minDiskGiB: 4,
  },
  'debian-12': {
    label: 'Debian 12 (bookworm)',
    defaultUser: 'debian',
    packageManager: 'apt',
    cpus: 1,
    memoryMiB: 1024,
    diskGiB: 8,
    minMemoryMiB: 512,
    minDiskGiB: 3,
  },
  kali: {
    label: 'Kali Linux (rolling)',
    defaultUser: 'kali',
    packageManager: 'apt',
    cpus: 2,
    memoryMiB: 4096,
    diskGiB: 40,
    minMemoryMiB: 2048,
    minDiskGiB: 20,
  },
};

/**
 * Sizes for a VM cloned from a template given only by id or name: the OS is unknown, so the
 * defaults are those of a small general-purpose server and no minimums apply.
 */
export const TEMPLATE_DEFAULT_SIZES = { cpus: 1, memoryMiB: 1024, diskGiB: 10 } as const;

/** The sizes a VM gets for whatever it leaves out: its OS profile's, or the template defaults. */
export function defaultSizes(os: OsName | undefined): { cpus: number; memoryMiB: number; diskGiB: number } {
  return os ? OS_PROFILES[os] : TEMPLATE_DEFAULT_SIZES;
}

/** Where an OS's template goes when Glassdome builds it: 9000 + the OS's place in OS_NAMES, a range operators keep for templates. */
export function defaultTemplateVmid(os: OsName): number {
  return 9000 + OS_NAMES.indexOf(os);
}
