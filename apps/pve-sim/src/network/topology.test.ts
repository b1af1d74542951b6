import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guestAddress } from '../guests';
import type { GuestRouteEntry } from '../state/guest-disk';
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
      ['127.64.0.1', 'ens19', undefined, 'dhcp', 100],
    ],
  );
  assert.deepEqual(routeTo(nics, '198.51.100.10')?.nextHop, '10.10.1.1');
  assert.equal(routeTo(nics, '127.64.0.7')?.nic.name, 'ens19');
});

test("the guest's own routes: the longest prefix wins, then the lowest metric; deletions hide configured routes", () => {
  const cluster = new TestCluster().vnet('dmz', 101).vm(105, ['bridge=dmz', 'bridge=vmbr0'], ['ip=10.10.1.10/24']);
  const nics = nicsOf(cluster, 105);
  const changes: GuestRouteEntry[] = [
    { destination: '10.20.0.0/16', via: '10.10.1.1', dev: 'ens18' },
    { destination: '10.20.5.0/24', via: '10.10.1.2', dev: 'ens18', metric: 20 },
    { destination: '10.20.5.0/24', via: '10.10.1.3', dev: 'ens18', metric: 10 },
    { destination: '10.30.0.0/16', via: '10.99.0.1', dev: 'ens18' },
    { destination: '10.40.0.0/16', dev: 'ens18' },
  ];
  const table = routesOf(nics, changes).map((route) => [route.destination, route.via, route.metric, route.proto]);
  assert.deepEqual(table, [
    ['default', '127.64.0.1', 100, 'dhcp'],
    ['10.10.1.0/24', undefined, undefined, 'kernel'],
    ['10.20.0.0/16', '10.10.1.1', undefined, 'boot'],
    ['10.20.5.0/24', '10.10.1.3', 10, 'boot'],
    ['10.20.5.0/24', '10.10.1.2', 20, 'boot'],
    ['10.40.0.0/16', undefined, undefined, 'boot'],
    ['127.64.0.0/16', undefined, 100, 'kernel'],
    ['127.64.0.1', undefined, 100, 'dhcp'],
  ]);
  assert.equal(routeTo(nics, '10.20.9.9', changes)?.nextHop, '10.10.1.1');
  assert.equal(routeTo(nics, '10.20.5.9', changes)?.nextHop, '10.10.1.3', 'longest prefix, then lowest metric');
  assert.equal(routeTo(nics, '10.30.0.1', changes)?.nextHop, '127.64.0.1', 'a gateway off the link is no route');
  assert.deepEqual(
    [routeTo(nics, '10.40.1.1', changes)?.nextHop, routeTo(nics, '10.40.1.1', changes)?.nic.name],
    ['10.40.1.1', 'ens18'],
    'a route onto the link resolves the destination itself',
  );
  const withoutDefault = [...changes, { destination: 'default', dev: 'ens19', metric: 100, deleted: true as const }];
  assert.equal(routeTo(nics, '198.51.100.10', withoutDefault), undefined);
  assert.equal(routesOf(nics, withoutDefault)[0]?.destination, '10.10.1.0/24');
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
