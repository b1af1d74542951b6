import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firewallState, hostFirewall, vmFirewall } from './firewall-config';
import { type Probe, probeFromGuest, probeFromManagement } from './packet';
import { TestCluster } from './test-world';

const tcp = (dst: string, dport: number): Probe => ({ proto: 'tcp', dst, dport });
const ping = (dst: string): Probe => ({ proto: 'icmp', dst });
const outcome = (cluster: TestCluster, from: number, probe: Probe) =>
  probeFromGuest(cluster.world(), from, probe).outcome;

/** dmz (VLAN 101) with attacker 101 and web 102; internal (VLAN 102) with web's second NIC and db 103. */
function lab(): TestCluster {
  return new TestCluster()
    .vnet('dmz', 101)
    .vnet('internal', 102)
    .vm(101, ['bridge=dmz,firewall=1', 'bridge=vmbr0,firewall=1'], ['ip=10.10.1.5/24'])
    .vm(
      102,
      ['bridge=dmz,firewall=1', 'bridge=internal,firewall=1', 'bridge=vmbr0,firewall=1'],
      ['ip=10.10.1.10/24', 'ip=10.10.2.10/24'],
    )
    .vm(103, ['bridge=internal,firewall=1', 'bridge=vmbr0,firewall=1'], ['ip=10.10.2.20/24'])
    .listen(102, 'tcp', 80)
    .listen(103, 'tcp', 5432);
}

test('same segment: a listening port is open, a closed one refused, ping answered', () => {
  const cluster = lab();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'open');
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 81)), 'refused');
  assert.equal(outcome(cluster, 101, ping('10.10.1.10')), 'open');
  assert.equal(outcome(cluster, 101, tcp('10.10.1.99', 80)), 'unreachable', 'nobody answers ARP');
});

test('another segment without a route is unreachable at once; a dual-homed VM does not forward', () => {
  const cluster = lab();
  const verdict = probeFromGuest(cluster.world(), 101, tcp('10.10.2.20', 5432));
  assert.equal(verdict.outcome, 'dropped', 'via the default route of the management NIC, the uplink drops lab space');
  cluster.state.vms[101]!.config.ipconfig0 = 'ip=10.10.1.5/24,gw=10.10.1.10';
  assert.equal(outcome(cluster, 101, tcp('10.10.2.20', 5432)), 'dropped', 'web holds the gateway but routes nothing');
  cluster.state.vms[101]!.config.ipconfig0 = 'ip=10.10.1.5/24,gw=10.10.1.1';
  const noGateway = probeFromGuest(cluster.world(), 101, tcp('10.10.2.20', 5432));
  assert.deepEqual([noGateway.outcome, noGateway.unreachable], ['unreachable', 'host']);
  delete cluster.state.vms[101]!.config.net1;
  cluster.state.vms[101]!.config.ipconfig0 = 'ip=10.10.1.5/24';
  const noRoute = probeFromGuest(cluster.world(), 101, tcp('10.10.2.20', 5432));
  assert.deepEqual([noRoute.outcome, noRoute.unreachable], ['unreachable', 'network']);
});

test('a VNet of a VLAN zone is the same segment as that tag on the bridge', () => {
  const cluster = new TestCluster()
    .vnet('dmz', 101)
    .vm(101, ['bridge=dmz'], ['ip=10.10.1.5/24'])
    .vm(102, ['bridge=vmbr0,tag=101'], ['ip=10.10.1.10/24'])
    .vm(103, ['bridge=vmbr0,tag=102'], ['ip=10.10.1.11/24']);
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 22)), 'open');
  assert.equal(outcome(cluster, 101, tcp('10.10.1.11', 22)), 'unreachable');
});

test('copies with identical addresses stay apart: each reaches only its own 10.10.0.10', () => {
  const cluster = new TestCluster()
    .vnet('copy1', 201)
    .vnet('copy2', 202)
    .vm(211, ['bridge=copy1'], ['ip=10.10.0.5/24'])
    .vm(212, ['bridge=copy1'], ['ip=10.10.0.10/24'])
    .vm(221, ['bridge=copy2'], ['ip=10.10.0.5/24'])
    .vm(222, ['bridge=copy2'], ['ip=10.10.0.10/24'])
    .listen(222, 'tcp', 8080);
  assert.equal(outcome(cluster, 211, tcp('10.10.0.10', 8080)), 'refused', "copy 1's target, not copy 2's");
  assert.equal(outcome(cluster, 221, tcp('10.10.0.10', 8080)), 'open');
  cluster.down.add(212);
  assert.equal(outcome(cluster, 211, tcp('10.10.0.10', 8080)), 'unreachable', 'never falls over to the other copy');
  assert.equal(outcome(cluster, 211, ping('10.10.0.10')), 'unreachable');
});

test('IN rules: the default DROP policy, ACCEPT for a port, REJECT answers with a reset', () => {
  const cluster = lab();
  cluster.firewallOn(102);
  cluster.compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'dropped', 'policy_in defaults to DROP');
  assert.equal(outcome(cluster, 101, ping('10.10.1.10')), 'dropped');
  cluster.rule(102, { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '80', source: '10.10.1.0/24' });
  cluster.rule(102, { type: 'in', action: 'REJECT', proto: 'tcp', dport: '22' });
  cluster.rule(102, { type: 'in', action: 'REJECT', proto: 'icmp' }).compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'open');
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 22)), 'refused');
  assert.equal(outcome(cluster, 101, ping('10.10.1.10')), 'dropped', 'REJECT drops ICMP (PVEFW-reject)');
  const verdict = probeFromGuest(cluster.world(), 101, tcp('10.10.1.10', 443));
  assert.match(verdict.reason, /VM 102 net0 in: policy DROP/);
});

test('rules are evaluated in order and a disabled rule or one on another NIC does not count', () => {
  const cluster = lab();
  cluster.firewallOn(102, { policy_in: 'ACCEPT' });
  cluster.rule(102, { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '80', enable: 0 });
  cluster.rule(102, { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '80', iface: 'net1' });
  cluster.rule(102, { type: 'in', action: 'DROP', proto: 'tcp', dport: '80:90' });
  cluster.rule(102, { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '80' }).compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'dropped');
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 22)), 'open', 'policy_in ACCEPT');
});

test('OUT rules and policies of the sender: DROP, REJECT, and the policy_out default ACCEPT', () => {
  const cluster = lab();
  cluster.firewallOn(101, { policy_out: 'DROP' });
  cluster.rule(101, { type: 'out', action: 'ACCEPT', macro: 'HTTP', dest: '10.10.1.10' });
  cluster.rule(101, { type: 'out', action: 'REJECT', proto: 'tcp', dport: '81' }).compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'open');
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 81)), 'refused');
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 22)), 'dropped');
  vmFirewall(cluster.state, 101).options.policy_out = 'REJECT';
  cluster.compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 22)), 'refused');
  delete vmFirewall(cluster.state, 101).options.policy_out;
  cluster.compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 22)), 'open');
});

test('security groups and IPSets: group rules inline, nomatch entries excluded, aliases resolved', () => {
  const cluster = lab();
  const dc = firewallState(cluster.state).cluster;
  dc.aliases.attacker = { name: 'attacker', cidr: '10.10.1.5', ipversion: 4 };
  dc.ipsets.dmz = { entries: [{ cidr: '10.10.1.0/24' }, { cidr: '10.10.1.5', nomatch: 1 }] };
  dc.groups.web = { rules: [{ type: 'in', action: 'ACCEPT', enable: 1, macro: 'Web', source: '+dmz' }] };
  dc.groups.ssh = { rules: [{ type: 'in', action: 'ACCEPT', enable: 1, macro: 'SSH', source: 'attacker' }] };
  cluster.firewallOn(102);
  cluster.rule(102, { type: 'group', action: 'web' });
  cluster.rule(102, { type: 'group', action: 'ssh' }).compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'dropped', '10.10.1.5 is a nomatch entry of +dmz');
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 22)), 'open', 'the ssh group accepts the alias');
  dc.ipsets.dmz.entries = [{ cidr: '10.10.1.0/24' }];
  cluster.compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'open');
  delete dc.ipsets.dmz;
  cluster.compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'dropped', 'a rule whose IPSet is gone is skipped');
});

test('the firewall off at cluster, node service, VM or NIC level lets everything through; host enable=0 does not', () => {
  const denyAll = () => {
    const cluster = lab();
    cluster.firewallOn(102);
    return cluster;
  };
  const blocked = denyAll().compile();
  assert.equal(outcome(blocked, 101, tcp('10.10.1.10', 80)), 'dropped');
  hostFirewall(blocked.state, 'pve01', true).options.enable = 0;
  blocked.compile();
  assert.equal(outcome(blocked, 101, tcp('10.10.1.10', 80)), 'dropped', "the node's enable only switches host rules");
  const cluster = denyAll();
  firewallState(cluster.state).cluster.options.enable = 0;
  assert.equal(outcome(cluster.compile(), 101, tcp('10.10.1.10', 80)), 'open');
  const stopped = denyAll().compile();
  stopped.stoppedNodes.add('pve01');
  assert.equal(outcome(stopped, 101, tcp('10.10.1.10', 80)), 'open');
  const vmOff = denyAll();
  vmFirewall(vmOff.state, 102).options.enable = 0;
  assert.equal(outcome(vmOff.compile(), 101, tcp('10.10.1.10', 80)), 'open');
  const nicOff = denyAll();
  nicOff.state.vms[102]!.config.net0 = nicOff.state.vms[102]!.config.net0!.replace(',firewall=1', '');
  assert.equal(outcome(nicOff.compile(), 101, tcp('10.10.1.10', 80)), 'open');
});

test('apply delay: a change filters only once compiled; a VM created since the last compile is unfiltered', () => {
  const cluster = lab().compile();
  cluster.firewallOn(102);
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'open', 'not compiled yet');
  cluster.compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'dropped');
  cluster.vm(104, ['bridge=dmz,firewall=1'], ['ip=10.10.1.20/24']).listen(104, 'tcp', 80);
  cluster.firewallOn(104);
  assert.equal(outcome(cluster, 101, tcp('10.10.1.20', 80)), 'open', 'no chains for VM 104 yet');
  cluster.compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.20', 80)), 'dropped');
});

test('the outside is reached through the management uplink only; egress rules decide', () => {
  const cluster = lab();
  assert.equal(outcome(cluster, 101, tcp('198.51.100.10', 80)), 'open');
  assert.equal(outcome(cluster, 101, tcp('203.0.113.7', 443)), 'open');
  assert.equal(outcome(cluster, 101, tcp('198.51.100.10', 22)), 'refused');
  assert.equal(outcome(cluster, 101, ping('198.51.100.10')), 'open');
  assert.equal(outcome(cluster, 101, tcp('8.8.8.8', 53)), 'dropped', 'nothing else is out there');
  assert.equal(outcome(cluster, 101, tcp('127.64.0.1', 53)), 'open', 'the router resolves names');
  cluster.firewallOn(101, { policy_out: 'DROP' });
  cluster.rule(101, {
    type: 'out',
    action: 'ACCEPT',
    proto: 'tcp',
    dport: '80',
    dest: '198.51.100.0/24',
    iface: 'net1',
  });
  cluster.compile();
  assert.equal(outcome(cluster, 101, tcp('198.51.100.10', 80)), 'open');
  assert.equal(outcome(cluster, 101, tcp('198.51.100.10', 443)), 'dropped');
  assert.equal(outcome(cluster, 101, tcp('203.0.113.7', 80)), 'dropped');
  const lone = new TestCluster().vnet('dmz', 101).vm(301, ['bridge=dmz'], ['ip=10.10.1.5/24']);
  assert.equal(outcome(lone, 301, tcp('198.51.100.10', 80)), 'unreachable', 'no route without a management NIC');
});

test('the management NIC accepts only what its rules allow: SSH from the management host, not from other guests', () => {
  const cluster = lab();
  const mgmt = cluster.world().hosts.find((h) => h.vmid === 102)!.nics[2]!.address!.ip;
  assert.equal(mgmt, '127.64.0.102');
  cluster.firewallOn(102);
  cluster.rule(102, { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '22', source: '127.0.0.1', iface: 'net2' });
  cluster.compile();
  assert.equal(probeFromManagement(cluster.world(), '127.0.0.1', tcp(mgmt, 22)).outcome, 'open');
  assert.equal(probeFromManagement(cluster.world(), '127.0.0.1', tcp(mgmt, 80)).outcome, 'dropped');
  assert.equal(probeFromManagement(cluster.world(), '127.0.0.9', tcp(mgmt, 22)).outcome, 'dropped');
  assert.equal(outcome(cluster, 101, tcp(mgmt, 22)), 'dropped', 'guest to guest over the management network');
});

test("ipfilter drops a guest's IPv4 unless its ipfilter-netN set holds the address", () => {
  const cluster = lab();
  cluster.firewallOn(101, { ipfilter: 1 });
  cluster.compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'dropped');
  vmFirewall(cluster.state, 101).ipsets['ipfilter-net0'] = { entries: [{ cidr: '10.10.1.5' }] };
  cluster.compile();
  assert.equal(outcome(cluster, 101, tcp('10.10.1.10', 80)), 'open');
});

test('own addresses and loopback are local: no firewall, only sockets', () => {
  const cluster = lab();
  cluster.firewallOn(102, { policy_out: 'DROP' });
  cluster.compile();
  assert.equal(outcome(cluster, 102, tcp('10.10.2.10', 80)), 'open');
  assert.equal(outcome(cluster, 102, tcp('127.0.0.1', 81)), 'refused');
});

test('a VM is filtered by the rules its own node compiled', () => {
  const cluster = new TestCluster()
    .vnet('dmz', 101)
    .vm(101, ['bridge=dmz'], ['ip=10.10.1.5/24'])
    .vm(201, ['bridge=dmz,firewall=1'], ['ip=10.10.1.20/24'], 'pve02')
    .listen(201, 'tcp', 22);
  cluster.firewallOn(201);
  vmFirewall(cluster.state, 201).rules.push({ type: 'in', action: 'DROP', enable: 1, proto: 'tcp', dport: '22' });
  const world = cluster.compile().world();
  // pve01 compiled before VM 201 had chains; pve02 compiled after.
  const older = structuredClone(world.firewallOn('pve01'));
  delete older.vms['201'];
  const perNode = { ...world, firewallOn: (node: string) => (node === 'pve02' ? world.firewallOn(node) : older) };
  assert.equal(probeFromGuest(perNode, 101, tcp('10.10.1.20', 22)).outcome, 'dropped', 'pve02 holds the rule');
  const reversed = { ...world, firewallOn: (node: string) => (node === 'pve01' ? world.firewallOn(node) : older) };
  assert.equal(probeFromGuest(reversed, 101, tcp('10.10.1.20', 22)).outcome, 'open', 'only pve01 has it');
});
