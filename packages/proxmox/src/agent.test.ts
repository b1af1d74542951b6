import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstGlobalIPv4, type GuestInterface, isGlobalUnicastIPv4 } from './agent';

const nic = (name: string, ...addresses: string[]): GuestInterface => ({
  name,
  mac: undefined,
  addresses: addresses.map((address) => ({
    family: address.includes(':') ? 'ipv6' : 'ipv4',
    address,
    prefix: address.includes(':') ? 64 : 24,
  })),
});

test('link-local, unspecified, multicast and broadcast IPv4 are not usable', () => {
  for (const address of ['169.254.10.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', 'fe80::1', 'nonsense']) {
    assert.equal(isGlobalUnicastIPv4(address), false, address);
  }
  for (const address of ['10.10.0.5', '192.168.0.144', '8.8.8.8']) assert.equal(isGlobalUnicastIPv4(address), true);
});

test('the loopback interface is skipped; the first usable IPv4 of another interface wins', () => {
  const interfaces = [
    nic('lo', '127.0.0.1', '::1'),
    nic('ens18', 'fe80::be24:11ff:fe46:3217', '169.254.3.3'),
    nic('ens19', '192.168.0.144', '10.0.0.2'),
  ];
  assert.equal(firstGlobalIPv4(interfaces), '192.168.0.144');
  assert.equal(firstGlobalIPv4([nic('lo', '127.0.0.1'), nic('eth0')]), undefined);
  assert.equal(firstGlobalIPv4([nic('eth0', '127.64.0.101')]), '127.64.0.101', "the simulator's guest addresses");
});
