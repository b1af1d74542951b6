/**
 * Adopting an existing template (POST /templates at a VMID where a template already is): Glassdome
 * records it as that OS's template only if the VM is a template and says it is that OS. A template
 * cannot be booted to ask, so its configuration is the evidence: a Linux `ostype`, and the OS's
 * family and release in its name, tags or description (`ubuntu-2204-tmpl`, tag `debian-12`, a
 * description naming `kali`). Anything else is refused rather than handed out as the OS's template.
 */
import type { OsName } from '@glassdome/lab';

const EVIDENCE: Record<OsName, { family: RegExp; release?: RegExp }> = {
  'ubuntu-22.04': { family: /ubuntu/, release: /22[.-]?04|jammy/ },
  'ubuntu-24.04': { family: /ubuntu/, release: /24[.-]?04|noble/ },
  'debian-12': { family: /debian/, release: /(^|[^0-9])12([^0-9]|$)|bookworm/ },
  kali: { family: /kali/ },
};

/** Why the VM with `config` (`qm config` as key → value) may not be adopted as `os`'s template; undefined when it may. */
export function adoptionProblem(os: OsName, vmid: number, config: Record<string, string>): string | undefined {
  if (config.template !== '1') return `VM ${vmid} is not a template`;
  if (config.ostype && !/^l2[46]$/.test(config.ostype))
    return `template ${vmid} has ostype ${config.ostype}, not Linux`;
  const text = [config.name, (config.tags ?? '').replaceAll(';', ' '), config.description]
    .filter(Boolean)
    .join(' ')
    .toLowerCase();
  const { family, release } = EVIDENCE[os];
  if (!family.test(text) || (release && !release.test(text))) {
    return `template ${vmid} (${config.name ?? 'unnamed'}) does not say it is ${os}: name or tag it after the OS (e.g. tag ${os}) to adopt it`;
  }
  return undefined;
}
