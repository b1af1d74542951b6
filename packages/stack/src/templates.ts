import type { SimulatorInfo } from '@glassdome/config';
import { simulatorRoot } from './sim-root';

/**
 * The simulator's default cluster has one template (Ubuntu 22.04, VMID 9000). Labs that use the other
 * OSes need theirs: these are made the way an operator would (full clone of 9000, named so the
 * simulator's guests know their OS, converted to a template), at the VMIDs `POST /templates` uses.
 */
export const OS_TEMPLATES = [
  { os: 'ubuntu-24.04', vmid: 9001, name: 'ubuntu-2404-tmpl' },
  { os: 'debian-12', vmid: 9002, name: 'debian-12-tmpl' },
  { os: 'kali', vmid: 9003, name: 'kali-tmpl' },
] as const;

/** TEMPLATE_VMIDS for an installer on a simulator prepared by addOsTemplates. */
export const OS_TEMPLATE_VMIDS = ['ubuntu-22.04=9000', ...OS_TEMPLATES.map((t) => `${t.os}=${t.vmid}`)].join(',');

/**
 * Adds the templates as root (those already there are kept). The deploy token gets clone rights on them only when `grantClone`
 * is set; otherwise its first clone is refused and Glassdome's gateway grants exactly VM.Clone.
 */
export async function addOsTemplates(sim: SimulatorInfo, options: { grantClone?: boolean } = {}): Promise<void> {
  const root = simulatorRoot(sim);
  try {
    const existing = new Set((await root.vms.list()).filter((vm) => vm.template).map((vm) => vm.vmid));
    for (const template of OS_TEMPLATES) {
      if (existing.has(template.vmid)) continue;
      const upid = await root.vms.clone({
        sourceVmid: sim.templateVmid,
        newid: template.vmid,
        name: template.name,
        full: true,
      });
      await root.tasks.wait(upid, { deadlineMs: 120_000 });
      await root.tasks.wait(await root.vms.template(template.vmid), { deadlineMs: 60_000 });
      if (options.grantClone) {
        await root.access.grant({
          path: `/vms/${template.vmid}`,
          roles: ['PVETemplateUser'],
          users: [sim.tokenId.split('!')[0]!],
          tokens: [sim.tokenId],
        });
      }
    }
  } finally {
    root.close();
  }
}
