import { OS_PROFILES, type OsName, type ProvisionStep } from '@glassdome/lab';

/**
 * What a VM row's `spec` holds: the validated request of `POST /vms`, or one VM of a lab spec (with
 * its networks resolved to bridges and tags by the lab's network tasks).
 */
export interface VmSpec {
  os: OsName;
  template?: number | string;
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
  cloudInit?: { user?: string; sshKeys?: string[]; packages?: string[]; runcmd?: string[] };
  provision?: ProvisionStep[];
  network?: { bridge?: string; vlan?: number; ip?: string; gateway?: string };
}

export function loginUser(spec: VmSpec): string {
  return spec.cloudInit?.user ?? OS_PROFILES[spec.os]?.defaultUser ?? 'ubuntu';
}

/** Which template to clone: the spec's, a template the gateway built for this OS, or TEMPLATE_VMIDS. */
export function templateFromEnv(spec: VmSpec, templateVmids: string): number | undefined {
  if (typeof spec.template === 'number') return spec.template;
  for (const pair of templateVmids.split(',')) {
    const [os, vmid] = pair.split('=');
    if (os === spec.os) return Number(vmid);
  }
  return undefined;
}
