import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vmFirewall } from './firewall-config';
import { type Probe, probeFromGuest, type Verdict } from './packet';
import { TestCluster } from './test-world';

const tcp = (dst: string, dport: number): Probe => ({ proto: 'tcp', dst, dport });
const ping = (dst: string): Probe => ({ proto: 'icmp', dst });
const probe = (cluster: TestCluster, from: number, what: Probe): Verdict => probeFromGuest(cluster.world(), from, what);
const outcome = (cluster: TestCluster, from: number, what: Probe) => probe(cluster, from, what).outcome;

const a = 101;
const router = 102;
const b = 103;
const mgmt = 'bridge=vmbr0,firewall=1';

/**
 * Two segments joined by a router, as a lab spec with gateways deploys them: `a` on clients
 * (10.30.0.0/24), `b` on servers (10.31.0.0/24), the router holding both gateways (.1), each VM with
 * a management NIC whose DHCP default route stays; `a` and `b` route the other network via the router.
 */
function routed(): TestCluster {
  return new TestCluster()
    .vnet('clients', 301)
    .vnet('servers', 302)
    .vm(a, ['bridge=clients,firewall=1', mgmt], ['ip=10.30.0.5/24'])
    .vm(
      router,
      ['bridge=clients,firewall=1', 'bridge=servers,firewall=1', mgmt],
      ['ip=10.30.0.1/24', 'ip=10.31.0.1/24'],
    )
    .vm(b, ['bridge=servers,firewall=1', mgmt], ['ip=10.31.0.20/24'])
    .listen(b, 'tcp', 80)
    .route(a, { destination: '10.31.0.0/24', via: '10.30.0.1', dev: 'ens18' })
    .route(b, { destination: '10.30.0.0/24', via: '10.31.0.1', dev: 'ens18' })
    .forwarding(router);
}

test('through a router with forwarding on: open, refused and echoed, the answer one hop shorter (TTL 63)', () => {
  const cluster = routed();
  const web = probe(cluster, a, tcp('10.31.0.20', 80));
  assert.deepEqual(
    [web.outcome, web.src, web.ttl, web.via, web.peer],
    ['open', '10.30.0.5', 63, [router], { kind: 'guest', vmid: b }],
  );
  assert.equal(outcome(cluster, a, tcp('10.31.0.20', 81)), 'refused');
  assert.equal(probe(cluster, a, ping('10.31.0.20')).ttl, 63);
  assert.equal(outcome(cluster, b, ping('10.30.0.5')), 'open', 'and back the other way');
  const direct = probe(cluster, router, tcp('10.31.0.20', 80));
  assert.deepEqual(
    [direct.outcome, direct.ttl, direct.via],
    ['open', 64, undefined],
    'the router itself is on servers',
  );
});

test('forwarding off: the router drops what is not for it, silently; its own other address still answers', () => {
  const cluster = routed().forwarding(router, false);
  const web = probe(cluster, a, tcp('10.31.0.20', 80));
  assert.equal(web.outcome, 'dropped');
  assert.match(web.reason, /VM 102 does not forward/);
  assert.equal(outcome(cluster, a, ping('10.31.0.20')), 'dropped');
  // Linux takes a packet for any of its addresses on whichever NIC it arrives (weak host model).
  assert.equal(outcome(cluster, a, tcp('10.31.0.1', 22)), 'open');
  assert.equal(probe(cluster, a, ping('10.31.0.1')).ttl, 64, 'delivered, not forwarded');
});

test("a NIC's own forwarding switch decides for what arrives on it, so the answer can be the one lost", () => {
  const cluster = routed().sysctl(router, 'net.ipv4.conf.ens18.forwarding', '0');
  assert.match(probe(cluster, a, tcp('10.31.0.20', 80)).reason, /VM 102 does not forward/);
  cluster.listen(a, 'tcp', 8080);
  const back = probe(cluster, b, tcp('10.30.0.5', 8080));
  assert.equal(back.outcome, 'dropped', "b's SYN is forwarded (it arrives on ens19), a's answer is not");
  assert.match(back.reason, /answer is lost: VM 102 does not forward/);
  cluster.sysctl(router, 'net.ipv4.conf.ens18.forwarding', '1').forwarding(router, false);
  assert.equal(outcome(cluster, a, tcp('10.31.0.20', 80)), 'dropped', 'ens19 follows ip_forward');
});

test("the router's chains judge forwarded packets on their own addresses: IN on the way in, OUT on the way out", () => {
  const cluster = routed();
  cluster.firewallOn(router, { policy_in: 'DROP', policy_out: 'DROP' });
  cluster.compile();
  const dropped = probe(cluster, a, tcp('10.31.0.20', 80));
  assert.equal(dropped.outcome, 'dropped');
  assert.match(dropped.reason, /VM 102 net0 in: policy DROP/);
  // A rule naming the router's addresses does not match a packet that is only passing through.
  cluster.rule(router, { type: 'in', action: 'ACCEPT', iface: 'net0', dest: '10.30.0.1', proto: 'tcp', dport: '80' });
  cluster.compile();
  assert.equal(outcome(cluster, a, tcp('10.31.0.20', 80)), 'dropped');
  cluster.rule(router, {
    type: 'in',
    action: 'ACCEPT',
    iface: 'net0',
    source: '10.30.0.0/24',
    dest: '10.31.0.20',
    proto: 'tcp',
    dport: '80',
  });
  cluster.compile();
  const out = probe(cluster, a, tcp('10.31.0.20', 80));
  assert.equal(out.outcome, 'dropped');
  assert.match(out.reason, /VM 102 net1 out: policy DROP/, 'then the egress tap');
  cluster.rule(router, {
    type: 'out',
    action: 'ACCEPT',
    iface: 'net1',
    source: '10.30.0.0/24',
    dest: '10.31.0.20',
    proto: 'tcp',
    dport: '80',
  });
  cluster.compile();
  assert.equal(outcome(cluster, a, tcp('10.31.0.20', 80)), 'open', 'the answer rides conntrack past policy DROP');
  assert.equal(outcome(cluster, a, tcp('10.31.0.20', 81)), 'dropped', 'only the allowed port');
  assert.equal(outcome(cluster, b, tcp('10.30.0.5', 80)), 'dropped', 'and only that direction');
  cluster.rule(router, { type: 'in', action: 'REJECT', iface: 'net0', proto: 'tcp', dport: '81' }).compile();
  assert.equal(outcome(cluster, a, tcp('10.31.0.20', 81)), 'refused', "a REJECT on the router's tap resets");
});

test("ipfilter on the router drops forwarded packets unless the egress NIC's set holds their source", () => {
  const cluster = routed();
  const scope = cluster.firewallOn(router, { policy_in: 'ACCEPT', ipfilter: 1 });
  scope.ipsets['ipfilter-net1'] = { entries: [{ cidr: '10.31.0.1' }] };
  cluster.compile();
  const verdict = probe(cluster, a, tcp('10.31.0.20', 80));
  assert.equal(verdict.outcome, 'dropped');
  assert.match(verdict.reason, /VM 102 net1 out: ipfilter \(source 10\.30\.0\.5 not in ipfilter-net1\)/);
  scope.ipsets['ipfilter-net1']!.entries.push({ cidr: '10.30.0.0/24' });
  cluster.compile();
  assert.equal(outcome(cluster, a, tcp('10.31.0.20', 80)), 'open');
});

test("the endpoints' chains see the far address: b's IN chain judges a's source, not the router's", () => {
  const cluster = routed();
  cluster.firewallOn(b);
  cluster.rule(b, { type: 'in', action: 'ACCEPT', iface: 'net0', source: '10.31.0.1', proto: 'tcp', dport: '80' });
  cluster.compile();
  assert.equal(outcome(cluster, a, tcp('10.31.0.20', 80)), 'dropped');
  vmFirewall(cluster.state, b).rules[0]!.source = '10.30.0.5';
  cluster.compile();
  assert.equal(outcome(cluster, a, tcp('10.31.0.20', 80)), 'open');
  cluster.firewallOn(a, { policy_out: 'DROP' });
  cluster.rule(a, { type: 'out', action: 'ACCEPT', iface: 'net0', dest: '10.30.0.1' }).compile();
  assert.equal(outcome(cluster, a, tcp('10.31.0.20', 80)), 'dropped', "a's OUT chain sees b's address");
});

test('no route on the sender: the default route takes it to the management uplink, or nothing does', () => {
  const cluster = routed();
  cluster.routes.delete(a);
  const uplink = probe(cluster, a, tcp('10.31.0.20', 80));
  assert.deepEqual([uplink.outcome, uplink.reason], ['dropped', 'the uplink does not reach 10.31.0.20']);
  cluster.route(a, { destination: 'default', dev: 'ens19', metric: 100, deleted: true });
  const none = probe(cluster, a, tcp('10.31.0.20', 80));
  assert.deepEqual([none.outcome, none.unreachable], ['unreachable', 'network']);
  cluster.route(a, { destination: '10.31.0.0/24', via: '10.30.0.9', dev: 'ens18' });
  const arp = probe(cluster, a, tcp('10.31.0.20', 80));
  assert.deepEqual([arp.outcome, arp.unreachable, arp.icmp], ['unreachable', 'host', undefined]);
});

test('answers need a way back: b without a route to clients answers into its default route and a hears nothing', () => {
  const cluster = routed();
  cluster.routes.delete(b);
  const verdict = probe(cluster, a, tcp('10.31.0.20', 80));
  assert.equal(verdict.outcome, 'dropped');
  assert.match(verdict.reason, /VM 103 answers, but the answer is lost: VM 103 sends it to the management router/);
  assert.equal(outcome(cluster, a, ping('10.31.0.20')), 'dropped');
});

test('answers may come back another way: conntrack lets them through a second router with no rule for them', () => {
  const cluster = routed()
    .vm(104, ['bridge=clients,firewall=1', 'bridge=servers,firewall=1', mgmt], ['ip=10.30.0.2/24', 'ip=10.31.0.2/24'])
    .forwarding(104);
  cluster.routes.set(b, [{ destination: '10.30.0.0/24', via: '10.31.0.2', dev: 'ens18' }]);
  for (const vmid of [router, 104]) cluster.firewallOn(vmid, { policy_in: 'DROP', policy_out: 'DROP' });
  cluster.rule(router, { type: 'in', action: 'ACCEPT', iface: 'net0', dest: '10.31.0.0/24' });
  cluster.rule(router, { type: 'out', action: 'ACCEPT', iface: 'net1', dest: '10.31.0.0/24' }).compile();
  const verdict = probe(cluster, a, tcp('10.31.0.20', 80));
  assert.deepEqual([verdict.outcome, verdict.via, verdict.ttl], ['open', [router], 63]);
  cluster.forwarding(104, false);
  assert.equal(outcome(cluster, a, tcp('10.31.0.20', 80)), 'dropped', 'the answer dies at the other router');
});

test('a router without a route answers ICMP net unreachable; one whose next hop is silent, host unreachable', () => {
  const cluster = routed();
  cluster.route(a, { destination: '10.32.0.0/24', via: '10.30.0.1', dev: 'ens18' });
  cluster.route(router, { destination: 'default', dev: 'ens20', metric: 100, deleted: true });
  const net = probe(cluster, a, tcp('10.32.0.7', 80));
  assert.deepEqual(
    [net.outcome, net.unreachable, net.icmp],
    ['unreachable', 'network', { from: '10.30.0.1', type: 'net-unreachable' }],
  );
  const host = probe(cluster, a, ping('10.31.0.99'));
  assert.deepEqual(
    [host.outcome, host.unreachable, host.icmp],
    ['unreachable', 'host', { from: '10.30.0.1', type: 'host-unreachable' }],
  );
  cluster.routes.delete(router);
  const uplink = probe(cluster, a, tcp('10.32.0.7', 80));
  assert.equal(uplink.outcome, 'dropped', "the router's default route hands it to the uplink");
  assert.match(uplink.reason, /the management router has no way back to 10\.30\.0\.5 \(forwarded by VM 102\)/);
  cluster.firewallOn(router, { policy_in: 'ACCEPT', policy_out: 'DROP' });
  cluster.compile();
  assert.equal(
    outcome(cluster, a, tcp('10.31.0.99', 80)),
    'unreachable',
    'ICMP errors are RELATED: no chain stops them',
  );
});

test('a routing loop ends when the TTL does: ICMP time exceeded from the router that saw it last', () => {
  const cluster = routed()
    .vm(104, ['bridge=clients,firewall=1', mgmt], ['ip=10.30.0.2/24'])
    .forwarding(104)
    .route(router, { destination: '10.40.0.0/16', via: '10.30.0.2', dev: 'ens18' })
    .route(104, { destination: '10.40.0.0/16', via: '10.30.0.1', dev: 'ens18' })
    .route(a, { destination: '10.40.0.0/16', via: '10.30.0.1', dev: 'ens18' });
  const verdict = probe(cluster, a, ping('10.40.1.1'));
  assert.equal(verdict.outcome, 'unreachable');
  assert.equal(verdict.icmp?.type, 'time-exceeded');
  assert.match(verdict.icmp!.from, /^10\.30\.0\.[12]$/);
});

test('two routers in a row: each hop costs one TTL and each router needs its own route', () => {
  const cluster = routed()
    .vnet('backend', 303)
    .vm(104, ['bridge=servers,firewall=1', 'bridge=backend,firewall=1', mgmt], ['ip=10.31.0.2/24', 'ip=10.32.0.1/24'])
    .vm(105, ['bridge=backend,firewall=1', mgmt], ['ip=10.32.0.50/24'])
    .forwarding(104)
    .route(a, { destination: '10.32.0.0/24', via: '10.30.0.1', dev: 'ens18' })
    .route(105, { destination: '10.30.0.0/24', via: '10.32.0.1', dev: 'ens18' })
    .listen(105, 'tcp', 5432);
  assert.equal(outcome(cluster, a, tcp('10.32.0.50', 5432)), 'dropped', 'the first router sends it to the uplink');
  cluster.route(router, { destination: '10.32.0.0/24', via: '10.31.0.2', dev: 'ens19' });
  assert.equal(outcome(cluster, a, tcp('10.32.0.50', 5432)), 'dropped', 'the second router has no way back to a');
  cluster.route(104, { destination: '10.30.0.0/24', via: '10.31.0.1', dev: 'ens18' });
  const verdict = probe(cluster, a, tcp('10.32.0.50', 5432));
  assert.deepEqual([verdict.outcome, verdict.via, verdict.ttl], ['open', [router, 104], 62]);
});
