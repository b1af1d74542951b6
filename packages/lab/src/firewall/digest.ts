/**
 * Digests of firewall objects, so the overseer can tell whether what Proxmox holds is still what
 * Glassdome applied. A digest covers what decides traffic (options, IPSet entries, rules in order)
 * and ignores what does not (comments, PVE's `pos`, `digest` and `ipversion` fields, key order), so
 * objects read back over the API digest the same as the compiled ones they came from.
 */
import { createHash } from 'node:crypto';
import type { FirewallView } from './evaluate';

/** The option keys Glassdome sets; others a node may report are left out of the digest. */
const OPTION_KEYS = ['enable', 'policy_in', 'policy_out', 'ipfilter', 'macfilter', 'dhcp', 'ndp', 'radv'] as const;
const RULE_KEYS = [
  'type',
  'action',
  'enable',
  'iface',
  'source',
  'dest',
  'proto',
  'dport',
  'sport',
  'macro',
  'icmp-type',
];

/** Options, IPSets and rules as the API returns them: values may be numbers, booleans or strings. */
export interface FirewallReadBack {
  options: Readonly<Record<string, unknown>>;
  ipsets: readonly { name: string; entries: readonly { cidr: string; nomatch?: unknown }[] }[];
  rules: readonly Readonly<Record<string, unknown>>[];
}

function flag(value: unknown): unknown {
  if (value === true || value === '1') return 1;
  if (value === false || value === '0') return 0;
  return value;
}

function canonical(vm: FirewallReadBack | FirewallView): unknown {
  const options = Object.fromEntries(
    OPTION_KEYS.filter((key) => (vm.options as Record<string, unknown>)[key] !== undefined).map((key) => [
      key,
      flag((vm.options as Record<string, unknown>)[key]),
    ]),
  );
  const ipsets = [...vm.ipsets]
    .map((set) => ({
      name: set.name,
      // PVE stores a single address without /32.
      entries: set.entries
        .map((entry) => `${entry.cidr.replace(/\/32$/, '')}${flag(entry.nomatch) === 1 ? '!' : ''}`)
        .sort(),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rules = vm.rules.map((rule) =>
    RULE_KEYS.flatMap((key) => {
      const value = (rule as Record<string, unknown>)[key];
      return value === undefined || value === '' ? [] : [[key, key === 'enable' ? Number(flag(value)) : value]];
    }),
  );
  return { options, ipsets, rules };
}

/** SHA-256 (hex) of one VM's firewall objects, compiled or read back. */
export function vmFirewallDigest(vm: FirewallReadBack | FirewallView): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(vm)))
    .digest('hex');
}

/** SHA-256 (hex) of a whole copy's firewall: every VM's digest, by VM name. */
export function labFirewallDigest(vms: readonly ((FirewallReadBack | FirewallView) & { vm: string })[]): string {
  const parts = [...vms]
    .sort((a, b) => (a.vm < b.vm ? -1 : a.vm > b.vm ? 1 : 0))
    .map((vm) => `${vm.vm}:${vmFirewallDigest(vm)}`);
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}
