import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLabSpec } from '../spec/parse';
import { compileLabFirewall } from './compile';
import { labFirewallDigest, vmFirewallDigest } from './digest';

function compiled() {
  const result = parseLabSpec({
    name: 'digest',
    networks: [{ name: 'lan', cidr: '10.10.0.0/24', egress: ['203.0.113.5:443'] }],
    rules: [],
    vms: [
      { name: 'a', os: 'debian-12', networks: [{ name: 'lan', ip: '10.10.0.10' }] },
      { name: 'b', os: 'debian-12', networks: ['lan'] },
    ],
  });
  assert.ok(result.ok);
  return compileLabFirewall(result.spec, { management: { sources: ['192.0.2.1'], guestCidr: '192.0.2.0/24' } });
}

/** What the PVE API hands back for the same objects: other key order, strings, pos and digest, /32 kept. */
function readBack(vm: ReturnType<typeof compiled>['vms'][number]) {
  return {
    options: {
      radv: 0,
      ndp: 0,
      ...Object.fromEntries(Object.entries(vm.options).reverse()),
      log_level_in: 'nolog',
      enable: '1',
    },
    ipsets: [...vm.ipsets].reverse().map((set) => ({
      name: set.name,
      comment: 'changed by someone',
      entries: [...set.entries]
        .reverse()
        .map((entry) => ({ ...entry, cidr: entry.cidr.includes('/') ? entry.cidr : `${entry.cidr}/32`, digest: 'x' })),
    })),
    rules: vm.rules.map((rule, pos) => ({ pos, digest: 'abc', ipversion: 4, ...rule, comment: 'edited' })),
  };
}

test('a digest is stable: same objects, same digest, however PVE returns them', () => {
  const first = compiled();
  const second = compiled();
  for (const [index, vm] of first.vms.entries()) {
    assert.match(vmFirewallDigest(vm), /^[0-9a-f]{64}$/);
    assert.equal(vmFirewallDigest(vm), vmFirewallDigest(second.vms[index]!));
    assert.equal(vmFirewallDigest(readBack(vm)), vmFirewallDigest(vm));
  }
  assert.equal(labFirewallDigest(first.vms), labFirewallDigest([...second.vms].reverse()));
  assert.notEqual(vmFirewallDigest(first.vms[0]!), vmFirewallDigest(first.vms[1]!));
});

test('a digest changes with anything that decides traffic', () => {
  const vm = compiled().vms[0]!;
  const base = vmFirewallDigest(vm);
  const changes = [
    { ...vm, rules: vm.rules.slice(1) },
    { ...vm, rules: [...vm.rules].reverse() },
    { ...vm, rules: vm.rules.map((rule, index) => (index === 0 ? { ...rule, dport: '2222' } : rule)) },
    { ...vm, rules: vm.rules.map((rule, index) => (index === 0 ? { ...rule, enable: 0 } : rule)) },
    { ...vm, options: { ...vm.options, policy_in: 'ACCEPT' as const } },
    { ...vm, options: { ...vm.options, ipfilter: 0 as const } },
    { ...vm, ipsets: vm.ipsets.slice(1) },
    {
      ...vm,
      ipsets: vm.ipsets.map((set, index) => (index === 0 ? { ...set, entries: [{ cidr: '10.10.0.11' }] } : set)),
    },
    {
      ...vm,
      ipsets: vm.ipsets.map((set, index) =>
        index === 1 ? { ...set, entries: [{ cidr: set.entries[0]!.cidr, nomatch: 1 as const }] } : set,
      ),
    },
  ];
  for (const [index, changed] of changes.entries()) assert.notEqual(vmFirewallDigest(changed), base, `change ${index}`);
});
