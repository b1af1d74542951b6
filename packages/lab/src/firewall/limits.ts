/**
 * What Proxmox VE accepts in firewall objects (PVE 8 API schema and pve-firewall's own checks);
 * docs/proxmox.md "Firewall objects" has the facts and where they come from.
 */

/** IPSet names: a letter, then letters, digits, `-` and `_`; 2–64 characters. */
export const PVE_IPSET_NAME = /^[A-Za-z][A-Za-z0-9_-]{1,63}$/;

/** Security group names: the same alphabet, 2–18 characters. */
export const PVE_GROUP_NAME = /^[A-Za-z][A-Za-z0-9_-]{1,17}$/;

/** A rule's `source` and `dest` are at most this long. */
export const PVE_ADDRESS_MAX_LENGTH = 512;

/** A `dport` list holds at most 15 numbers, a range `a:b` counting as two. */
export const PVE_DPORT_MAX_NUMBERS = 15;

/** A VM rule's `iface` names a NIC by its config key. */
export const PVE_VM_IFACE = /^net\d+$/;

/** Problems with one compiled object against PVE's limits; empty when PVE would accept it. */
export function pveRuleProblems(rule: {
  iface?: string;
  source?: string;
  dest?: string;
  dport?: string;
  proto?: string;
  comment?: string;
}): string[] {
  const problems: string[] = [];
  if (rule.iface !== undefined && !PVE_VM_IFACE.test(rule.iface)) problems.push(`iface ${rule.iface} is not netN`);
  for (const field of ['source', 'dest'] as const) {
    const value = rule[field];
    if (value !== undefined && value.length > PVE_ADDRESS_MAX_LENGTH) problems.push(`${field} is over 512 characters`);
    if (value?.startsWith('+') && !PVE_IPSET_NAME.test(value.slice(1).replace(/^(dc|guest)\//, ''))) {
      problems.push(`${field} names an invalid IPSet`);
    }
  }
  if (rule.dport !== undefined) {
    if (rule.proto !== 'tcp' && rule.proto !== 'udp') problems.push('dport needs proto tcp or udp');
    const numbers = rule.dport.split(',').reduce((sum, item) => sum + (item.includes(':') ? 2 : 1), 0);
    if (numbers > PVE_DPORT_MAX_NUMBERS) problems.push(`dport has ${numbers} numbers (at most 15)`);
  }
  if (rule.comment?.includes('\n')) problems.push('comment spans lines');
  return problems;
}
