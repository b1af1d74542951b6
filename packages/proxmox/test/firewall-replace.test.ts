/**
 * `FirewallApi.replace` against the simulator: a VM's firewall that already holds rules and non-empty
 * IPSets (one of them named as in the new one) ends up exactly as wanted — rules in order, each set
 * with only its new entries — and options as set.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Proxmox, VmFirewallInput } from '../src/index';
import { simAndClient } from './sim';

const bed = simAndClient();

const first: VmFirewallInput = {
  options: { enable: 1, policy_in: 'DROP' },
  ipsets: [
    { name: 'ipfilter-net0', entries: [{ cidr: '10.1.0.5' }, { cidr: '10.2.0.0/24' }] },
    { name: 'old-set', entries: [{ cidr: '192.168.0.0/16' }, { cidr: '192.168.1.0/24', nomatch: 1 }] },
  ],
  rules: [
    { type: 'in', action: 'ACCEPT', enable: 1, iface: 'net0', source: '+old-set', proto: 'tcp', dport: '22' },
    { type: 'out', action: 'ACCEPT', enable: 1, iface: 'net0', dest: '10.1.0.0/24' },
    { type: 'in', action: 'ACCEPT', enable: 1, iface: 'net0', source: '10.1.0.0/24' },
  ],
};

const second: VmFirewallInput = {
  options: { enable: 1, policy_in: 'DROP', policy_out: 'DROP' },
  ipsets: [
    { name: 'ipfilter-net0', entries: [{ cidr: '10.3.0.7' }] },
    { name: 'gd-mgmt', entries: [{ cidr: '172.16.0.1' }] },
  ],
  rules: [
    { type: 'in', action: 'ACCEPT', enable: 1, iface: 'net0', source: '+gd-mgmt', proto: 'tcp', dport: '22' },
    { type: 'out', action: 'ACCEPT', enable: 1, iface: 'net0', dest: '10.3.0.0/24' },
  ],
};

function summary(state: Awaited<ReturnType<Proxmox['firewall']['read']>>) {
  return {
    rules: state.rules.map(({ type, action, iface, source, dest, proto, dport }) =>
      JSON.stringify({ type, action, iface, source, dest, proto, dport }),
    ),
    ipsets: Object.fromEntries(
      state.ipsets.map((set) => [
        set.name,
        set.entries.map((entry) => `${entry.cidr}${entry.nomatch ? '!' : ''}`).sort(),
      ]),
    ),
  };
}

test('replacing a firewall that holds rules and non-empty IPSets leaves exactly the new one', async () => {
  await bed.pve.tasks.wait(
    await bed.pve.vms.clone({ sourceVmid: bed.sim.info.templateVmid, newid: 5301, name: 'fw-replace', full: false }),
  );
  await bed.pve.firewall.replace(5301, first);
  const before = summary(await bed.pve.firewall.read(5301));
  assert.equal(before.rules.length, 3);
  assert.deepEqual(before.ipsets['old-set'], ['192.168.0.0/16', '192.168.1.0/24!']);

  await bed.pve.firewall.replace(5301, second);
  const after = await bed.pve.firewall.read(5301);
  assert.deepEqual(summary(after), {
    rules: second.rules.map(({ type, action, iface, source, dest, proto, dport }) =>
      JSON.stringify({ type, action, iface, source, dest, proto, dport }),
    ),
    ipsets: { 'ipfilter-net0': ['10.3.0.7'], 'gd-mgmt': ['172.16.0.1'] },
  });
  assert.equal(after.options.policy_out, 'DROP');
});
