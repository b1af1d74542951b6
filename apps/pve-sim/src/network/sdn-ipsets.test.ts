import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Probe, probeFromGuest } from './packet';
import { sdnIpsets } from './sdn-ipsets';
import { TestCluster } from './test-world';

const tcp = (dst: string, dport: number): Probe => ({ proto: 'tcp', dst, dport });

test('every applied VNet has its four SDN IPSets; subnets, gateways (nomatch) and DHCP ranges fill them', () => {
  const cluster = new TestCluster().vnet('dmz', 101).vnet('bare', 102);
  cluster.state.sdn.subnets = {
    'gdlab-10.10.1.0-24': {
      vnet: 'dmz',
      gateway: '10.10.1.1',
      'dhcp-range': ['start-address=10.10.1.100,end-address=10.10.1.150'],
    },
  };
  const sets = sdnIpsets(cluster.state);
  assert.deepEqual(sets['dmz-all']?.entries, [{ cidr: '10.10.1.0/24' }]);
  assert.deepEqual(sets['dmz-no-gateway']?.entries, [{ cidr: '10.10.1.0/24' }, { cidr: '10.10.1.1', nomatch: 1 }]);
  assert.deepEqual(sets['dmz-gateway']?.entries, [{ cidr: '10.10.1.1' }]);
  assert.deepEqual(sets['dmz-dhcp']?.entries, [{ cidr: '10.10.1.100-10.10.1.150' }]);
  assert.deepEqual(sets['bare-all']?.entries, [], 'a VNet without subnets has empty sets');
  assert.deepEqual(Object.keys(sdnIpsets(cluster.state, (_zone, vnet) => vnet === 'bare')).length, 4);
});

test('a rule on +sdn/<vnet>-no-gateway admits the subnet but not its gateway', () => {
  const cluster = new TestCluster()
    .vnet('dmz', 101)
    .vm(601, ['bridge=dmz,firewall=1'], ['ip=10.10.1.10/24'])
    .vm(602, ['bridge=dmz'], ['ip=10.10.1.20/24'])
    .vm(603, ['bridge=dmz'], ['ip=10.10.1.1/24']);
  cluster.state.sdn.subnets = { 'gdlab-10.10.1.0-24': { vnet: 'dmz', gateway: '10.10.1.1' } };
  cluster.firewallOn(601);
  cluster.rule(601, { type: 'in', action: 'ACCEPT', macro: 'SSH', source: '+sdn/dmz-no-gateway' }).compile();
  assert.equal(probeFromGuest(cluster.world(), 602, tcp('10.10.1.10', 22)).outcome, 'open');
  assert.equal(probeFromGuest(cluster.world(), 603, tcp('10.10.1.10', 22)).outcome, 'dropped');
});
