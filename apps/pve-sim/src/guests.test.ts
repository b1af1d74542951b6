import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dhcpAddress, guestAddress } from './guests';
import type { Vm } from './state/types';

test('DHCP leases are subnet base + vmid, wrapped inside the subnet', () => {
  assert.deepEqual(dhcpAddress('127.64.0.0/16', 123), { ip: '127.64.0.123', prefix: 16 });
  assert.deepEqual(dhcpAddress('127.64.0.0/16', 1000), { ip: '127.64.3.232', prefix: 16 });
  assert.deepEqual(dhcpAddress('10.9.8.0/24', 300), { ip: '10.9.8.46', prefix: 24 });
});

test('a static ipconfig0 address wins over DHCP', () => {
  const vm: Vm = {
    vmid: 101,
    node: 'pve01',
    status: 'running',
    snapshots: {},
    config: { ipconfig0: 'ip=10.10.0.10/24,gw=10.10.0.1' },
  };
  assert.deepEqual(guestAddress(vm, '127.64.0.0/16'), { ip: '10.10.0.10', prefix: 24 });
  vm.config.ipconfig0 = 'ip=dhcp';
  assert.deepEqual(guestAddress(vm, '127.64.0.0/16'), { ip: '127.64.0.101', prefix: 16 });
});
