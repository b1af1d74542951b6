import { OS_PROFILES, type StoredVmSpec } from '@glassdome/lab';

export function loginUser(spec: StoredVmSpec): string {
  return spec.cloudInit.user || (spec.os ? OS_PROFILES[spec.os].defaultUser : 'ubuntu');
}

/** The template TEMPLATE_VMIDS names for the spec's OS (`os=vmid,…`), if any. */
export function templateFromEnv(spec: StoredVmSpec, templateVmids: string): number | undefined {
  if (typeof spec.template === 'number') return spec.template;
  for (const pair of templateVmids.split(',')) {
    const [os, vmid] = pair.split('=');
    if (os === spec.os) return Number(vmid);
  }
  return undefined;
}
