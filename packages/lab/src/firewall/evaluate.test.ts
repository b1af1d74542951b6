import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIpv4 } from '../spec/ipv4';
import { evaluateFirewall, type FirewallPacket, type FirewallView } from './evaluate';

const ip = (text: string) => parseIpv4(text)!;

function packet(changes: Partial<FirewallPacket> = {}): FirewallPacket {
  return { iface: 'net0', source: ip('10.0.0.2'), dest: ip('10.0.0.3'), proto: 'tcp', port: 80, ...changes };
}

const VM: FirewallView = {
  options: { enable: 1, policy_in: 'DROP', policy_out: 'DROP', ipfilter: 1 },
  ipsets: [
    { name: 'ipfilter-net0', entries: [{ cidr: '10.0.0.2' }] },
    { name: 'ipfilter-net1', entries: [{ cidr: '192.168.0.0/24' }, { cidr: '192.168.0.1', nomatch: 1 }] },
    {
      name: 'web',
      entries: [{ cidr: '10.0.0.0/24' }, { cidr: '10.0.0.128/25', nomatch: true }, { cidr: '10.0.0.200' }],
    },
  ],
  rules: [
    { type: 'out', action: 'DROP', enable: 1, iface: 'net0', dest: '10.0.0.9', proto: 'tcp' },
    { type: 'out', action: 'ACCEPT', enable: 1, iface: 'net0', dest: '+web', proto: 'tcp', dport: '80,8000:8100' },
    { type: 'out', action: 'ACCEPT', enable: 0, iface: 'net0', proto: 'udp' },
    { type: 'in', action: 'ACCEPT', enable: 1, source: '10.0.0.5-10.0.0.7,10.0.1.0/24', proto: 'icmp' },
    { type: 'in', action: 'ACCEPT', enable: 1, iface: 'net1', source: '+dc/admins' },
  ],
};

const CLUSTER = [{ name: 'admins', entries: [{ cidr: '192.168.0.1' }] }];

test('the first matching enabled rule decides; the policy decides the rest', () => {
  assert.deepEqual(evaluateFirewall(VM, 'out', packet()), { action: 'ACCEPT', by: 1 });
  assert.deepEqual(evaluateFirewall(VM, 'out', packet({ port: 8100 })), { action: 'ACCEPT', by: 1 });
  assert.deepEqual(evaluateFirewall(VM, 'out', packet({ port: 8101 })), { action: 'DROP', by: 'policy' });
  assert.deepEqual(evaluateFirewall(VM, 'out', packet({ dest: ip('10.0.0.9') })), { action: 'DROP', by: 0 });
  assert.deepEqual(evaluateFirewall(VM, 'out', packet({ proto: 'udp', port: 53 })), { action: 'DROP', by: 'policy' });
  assert.deepEqual(evaluateFirewall(VM, 'out', packet({ iface: 'net2', source: ip('10.0.0.2') })), {
    action: 'DROP',
    by: 'ipfilter',
  });
});

test('IPSets: the most specific entry decides, nomatch entries carve exceptions', () => {
  assert.equal(evaluateFirewall(VM, 'out', packet({ dest: ip('10.0.0.100') })).action, 'ACCEPT');
  assert.equal(evaluateFirewall(VM, 'out', packet({ dest: ip('10.0.0.129') })).action, 'DROP');
  assert.equal(evaluateFirewall(VM, 'out', packet({ dest: ip('10.0.0.200') })).action, 'ACCEPT');
});

test('ipfilter: out only from the NIC set, with its exceptions; on without a set, nothing leaves', () => {
  assert.deepEqual(evaluateFirewall(VM, 'out', packet({ source: ip('10.0.0.3') })), { action: 'DROP', by: 'ipfilter' });
  const mgmt = packet({ iface: 'net1', dest: ip('203.0.113.1') });
  assert.deepEqual(evaluateFirewall(VM, 'out', { ...mgmt, source: ip('192.168.0.1') }), {
    action: 'DROP',
    by: 'ipfilter',
  });
  assert.deepEqual(evaluateFirewall(VM, 'out', { ...mgmt, source: ip('192.168.0.9') }), {
    action: 'DROP',
    by: 'policy',
  });
  assert.equal(
    evaluateFirewall(VM, 'in', packet({ source: ip('99.0.0.1') })).by,
    'policy',
    'ipfilter is outbound only',
  );
});

test('in rules: address ranges and lists, cluster IPSets by +dc/, iface-less rules on every NIC', () => {
  const icmp = (source: string, iface = 'net0') =>
    evaluateFirewall(VM, 'in', packet({ source: ip(source), proto: 'icmp', port: null, iface }));
  assert.equal(icmp('10.0.0.6').action, 'ACCEPT');
  assert.equal(icmp('10.0.1.77', 'net1').action, 'ACCEPT');
  assert.equal(icmp('10.0.0.8').action, 'DROP');
  const fromAdmin = packet({ iface: 'net1', source: ip('192.168.0.1'), port: 22 });
  assert.equal(evaluateFirewall(VM, 'in', fromAdmin, CLUSTER).action, 'ACCEPT');
  assert.equal(evaluateFirewall(VM, 'in', { ...fromAdmin, iface: 'net0' }, CLUSTER).action, 'DROP');
  assert.throws(() => evaluateFirewall(VM, 'in', fromAdmin), /missing IPSet \+dc\/admins/);
});

test('PVE defaults: firewall off accepts everything; no policy means in DROP, out ACCEPT', () => {
  assert.deepEqual(evaluateFirewall({ ...VM, options: { enable: 0 } }, 'in', packet()), {
    action: 'ACCEPT',
    by: 'disabled',
  });
  const bare: FirewallView = { options: { enable: 1 }, ipsets: [], rules: [] };
  assert.equal(evaluateFirewall(bare, 'in', packet()).action, 'DROP');
  assert.equal(evaluateFirewall(bare, 'out', packet()).action, 'ACCEPT');
});
