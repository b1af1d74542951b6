import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guestAddress } from '../guests';
import { TestCluster } from './test-world';
import { accessNic, guestNics, nicName, routesOf, routeTo, topologyContext } from './topology';

function nicsOf(cluster: TestCluster, vmid: number) {
  return guestNics(cluster.state.vms[vmid]!, topologyContext(cluster.state, '127.64.0.0/16'));
}

test('a lab VM: static addresses on its lab NICs, a DHCP lease on its management NIC, named ens18…', () => {
  const cluster = new TestCluster()
    .vnet('dmz', 101)
    .vm(
      105,
      ['bridge=dmz,firewall=1', 'bridge=vmbr0,tag=7', 'bridge=vmbr0,firewall=1'],
      ['ip=10.10.1.10/24,gw=10.10.1.1', 'ip=10.20.0.4/16', 'ip=dhcp'],
    );
  const nics = nicsOf(cluster, 105);
  assert.deepEqual(
    nics.map((nic) => [nic.name, nic.segment, nic.address?.ip, nic.address?.dynamic, nic.gateway, nic.firewall]),
    [
      ['ens18', 'vmbr0.101', '10.10.1.10', false, '10.10.1.1', true],
      ['ens19', 'vmbr0.7', '10.20.0.4', false, undefined, false],
      ['ens20', 'vmbr0', '127.64.0.105', true, '127.64.0.1', true],
    ],
  );
  assert.equal(accessNic(nics)?.netId, 'net2');
  assert.equal(guestAddress(cluster.state.vms[105]!, '127.64.0.0/16').ip, '127.64.0.105');
  assert.equal(nicName(6), 'enp1s1');
});

test('routes: connected networks, the static default before the DHCP one (metric 100)', () => {
  const cluster = new TestCluster()
    .vnet('dmz', 101)
    .vm(105, ['bridge=dmz', 'bridge=vmbr0'], ['ip=10.10.1.10/24,gw=10.10.1.1']);
  const nics = nicsOf(cluster, 105);
  assert.deepEqual(
    routesOf(nics).map((route) => [route.destination, route.nic.name, route.via, route.proto, route.metric]),
    [
      ['default', 'ens18', '10.10.1.1', 'static', undefined],
      ['default', 'ens19', '127.64.0.1', 'dhcp', 100],
      ['10.10.1.0/24', 'ens18', undefined, 'kernel', undefined],
      ['127.64.0.0/16', 'ens19', undefined, 'kernel', 100],
    ],
  );
  assert.deepEqual(routeTo(nics, '198.51.100.10')?.nextHop, '10.10.1.1');
  assert.equal(routeTo(nics, '127.64.0.7')?.nic.name, 'ens19');
});

test('no DHCP off the management network; a VNet that is not applied has no segment; link_down unplugs', () => {
  const cluster = new TestCluster()
    .vnet('dmz', 101)
    .vm(106, ['bridge=dmz', 'bridge=notyet', 'bridge=vmbr0,link_down=1'], ['ip=dhcp']);
  const nics = nicsOf(cluster, 106);
  assert.deepEqual(
    nics.map((nic) => [nic.segment, nic.address?.ip]),
    [
      ['vmbr0.101', undefined],
      [undefined, undefined],
      [undefined, '127.64.0.106'],
    ],
  );
});

test('a VM without a management NIC keeps the single-NIC behaviour: its first NIC gets the guest address', () => {
  const cluster = new TestCluster()
    .vm(107, ['bridge=vmbr0,tag=100'])
    .vm(108, ['bridge=vmbr0,tag=100'], ['ip=10.10.0.10/24']);
  assert.equal(nicsOf(cluster, 107)[0]?.address?.ip, '127.64.0.107');
  assert.equal(guestAddress(cluster.state.vms[107]!, '127.64.0.0/16').ip, '127.64.0.107');
  assert.equal(guestAddress(cluster.state.vms[108]!, '127.64.0.0/16').ip, '10.10.0.10');
});
