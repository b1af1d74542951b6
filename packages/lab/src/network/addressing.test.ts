import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { broadcastOf, contains, parseCidr, parseIpv4 } from '../spec/ipv4';
import { parseLabSpec } from '../spec/parse';
import type { LabSpec } from '../spec/resolve';
import { arbitraryLabSpec } from '../test-arbitraries';
import { ipconfigValue, labAddressing, routerAddressOf } from './addressing';

function parsed(input: unknown): LabSpec {
  const result = parseLabSpec(input);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  return result.spec;
}

/** dmz and internal, a dual-homed web server with static addresses, a db, two counted clients. */
const TWO_NETWORKS = {
  name: 'ipam',
  copies: 2,
  networks: [
    { name: 'dmz', cidr: '10.10.1.0/24' },
    { name: 'internal', cidr: '10.10.2.0/29' },
  ],
  vms: [
    { name: 'client', os: 'debian-12', count: 2, networks: ['dmz'] },
    {
      name: 'web',
      os: 'ubuntu-22.04',
      networks: [
        { name: 'dmz', ip: '10.10.1.2' },
        { name: 'internal', ip: '10.10.2.3' },
      ],
    },
    { name: 'db', os: 'debian-12', networks: ['internal', 'dmz'] },
  ],
};

test('static addresses are kept; the rest are the lowest free, in spec order, skipping reserved ones', () => {
  const addressing = labAddressing(parsed(TWO_NETWORKS));
  const summary = addressing.vms.map((vm) => [
    vm.vm,
    vm.nics.map((nic) => `net${nic.nic}=${nic.network}:${nic.address}/${nic.prefix}:${nic.assigned}`),
    vm.managementNic,
  ]);
  assert.deepEqual(summary, [
    // .0 is the network, .1 the router's (no gateway declared), .2 is web's static address.
    ['client-1', ['net0=dmz:10.10.1.3/24:allocated'], 1],
    ['client-2', ['net0=dmz:10.10.1.4/24:allocated'], 1],
    ['web', ['net0=dmz:10.10.1.2/24:static', 'net1=internal:10.10.2.3/29:static'], 2],
    ['db', ['net0=internal:10.10.2.2/29:allocated', 'net1=dmz:10.10.1.5/24:allocated'], 2],
  ]);
  assert.ok(addressing.vms.every((vm) => vm.routes.length === 0 && vm.routerFor.length === 0));
  assert.ok(addressing.vms.every((vm) => vm.nics.every((nic) => nic.gateway === undefined)));
});

test('addressing depends on the spec only: same result every run, and after a round trip through JSON', () => {
  const spec = parsed(TWO_NETWORKS);
  const again = parsed(JSON.parse(JSON.stringify(TWO_NETWORKS)));
  assert.deepEqual(labAddressing(spec), labAddressing(again));
  assert.deepEqual(labAddressing(spec), labAddressing(spec));
});

test('a declared gateway: the router holds it and gets no gateway; the others get it and a route through it', () => {
  const spec = parsed({
    name: 'routed',
    networks: [
      { name: 'clients', cidr: '10.30.0.0/24', gateway: '10.30.0.5' },
      { name: 'servers', cidr: '10.31.0.0/24', gateway: '10.31.0.5' },
      { name: 'island', cidr: '10.32.0.0/24' },
    ],
    vms: [
      {
        name: 'sensor',
        os: 'debian-12',
        networks: [
          { name: 'clients', ip: '10.30.0.5' },
          { name: 'servers', ip: '10.31.0.5' },
        ],
      },
      { name: 'web', os: 'debian-12', networks: ['servers'] },
      { name: 'ws', os: 'debian-12', networks: ['clients', 'island'] },
    ],
  });
  const [sensor, web, ws] = labAddressing(spec).vms;
  assert.deepEqual(sensor?.routerFor, ['clients', 'servers']);
  assert.deepEqual(sensor?.routes, []);
  assert.ok(sensor?.nics.every((nic) => nic.gateway === undefined));
  // With the gateway declared elsewhere, the first host is an ordinary address.
  assert.deepEqual(web?.nics, [
    { nic: 0, network: 'servers', address: '10.31.0.1', prefix: 24, assigned: 'allocated', gateway: '10.31.0.5' },
  ]);
  assert.deepEqual(web?.routes, [
    { to: '10.30.0.0/24', toNetwork: 'clients', via: '10.31.0.5', network: 'servers', nic: 0, router: 'sensor' },
  ]);
  assert.deepEqual(
    ws?.nics.map((nic) => [nic.address, nic.gateway]),
    [
      ['10.30.0.1', '10.30.0.5'],
      ['10.32.0.2', undefined],
    ],
  );
  assert.deepEqual(
    ws?.routes.map((route) => route.toNetwork),
    ['servers'],
    'no route to island from web: the router is not on it',
  );
  assert.equal(ipconfigValue(web!.nics[0]!), 'ip=10.31.0.1/24');
  assert.equal(ipconfigValue(web!.nics[0]!, true), 'ip=10.31.0.1/24,gw=10.31.0.5');
  assert.equal(ipconfigValue(ws!.nics[1]!, true), 'ip=10.32.0.2/24');
  assert.equal(routerAddressOf(spec.networks[2]!), parseIpv4('10.32.0.1'));
});

test('a network filled to the last address: every VM gets one, and none is reserved', () => {
  const spec = parsed({
    name: 'full',
    networks: [{ name: 'lan', cidr: '10.0.0.0/29', gateway: '10.0.0.6' }],
    vms: [
      { name: 'router', os: 'debian-12', networks: [{ name: 'lan', ip: '10.0.0.6' }] },
      { name: 'box', os: 'debian-12', count: 5, networks: ['lan'] },
    ],
  });
  assert.deepEqual(
    labAddressing(spec).vms.map((vm) => vm.nics[0]!.address),
    ['10.0.0.6', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'],
  );
});

test('any valid spec: addresses unique per network, inside it, never network, broadcast or a free router address', () => {
  fc.assert(
    fc.property(arbitraryLabSpec, (spec) => {
      const addressing = labAddressing(spec);
      for (const network of spec.networks) {
        const range = parseCidr(network.cidr)!;
        const nics = addressing.vms.flatMap((vm) => vm.nics.filter((nic) => nic.network === network.name));
        const addresses = nics.map((nic) => parseIpv4(nic.address)!);
        assert.equal(new Set(addresses).size, addresses.length, `duplicate on ${network.name}`);
        for (const address of addresses) {
          assert.ok(contains(range, address) && address !== range.base && address !== broadcastOf(range));
        }
        const router = routerAddressOf(network);
        const holder = nics.find((nic) => parseIpv4(nic.address) === router);
        if (holder) assert.equal(holder.assigned, 'static', 'only a static address is ever the router');
      }
      for (const [index, entry] of spec.vms.entries()) {
        for (const vm of addressing.vms.filter((candidate) => candidate.entry === entry.name)) {
          assert.deepEqual(
            vm.nics.map((nic) => nic.network),
            entry.networks.map((attachment) => attachment.name),
            `vms[${index}] keeps spec order`,
          );
          entry.networks.forEach((attachment, position) => {
            if (attachment.ip !== undefined) assert.equal(vm.nics[position]!.address, attachment.ip);
          });
          assert.equal(vm.managementNic, entry.networks.length);
        }
      }
    }),
    { numRuns: 200 },
  );
});
