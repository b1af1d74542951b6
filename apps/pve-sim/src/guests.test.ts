import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guestAddress } from './guests';
import { dhcpLease, leaseDhcp } from './network/topology';
import type { Vm } from './state/types';

test('DHCP leases start at subnet base + vmid, wrapped inside the subnet', () => {
  assert.deepEqual(dhcpLease('127.64.0.0/16', { vmid: 123 }), { ip: '127.64.0.123', prefix: 16 });
  assert.deepEqual(dhcpLease('127.64.0.0/16', { vmid: 1000 }), { ip: '127.64.3.232', prefix: 16 });
  assert.deepEqual(dhcpLease('10.9.8.0/24', { vmid: 300 }), { ip: '10.9.8.46', prefix: 24 });
});

test('no two VMs share a lease, even when their VMIDs wrap onto one address', () => {
  const vm = (vmid: number): Vm => ({ vmid, node: 'pve01', status: 'stopped', snapshots: {}, config: {} });
  // 15,010 and 80,544 (= 15,010 + 65,534) both start at 127.64.58.162 in a /16.
  const vms: Record<number, Vm> = { 15010: vm(15010) };
  leaseDhcp(vms, [vms[15010]!], '127.64.0.0/16');
  vms[80544] = vm(80544);
  leaseDhcp(vms, [vms[80544]!], '127.64.0.0/16');
  const first = dhcpLease('127.64.0.0/16', vms[15010]!).ip;
  const second = dhcpLease('127.64.0.0/16', vms[80544]!).ip;
  assert.equal(first, dhcpLease('127.64.0.0/16', { vmid: 80544 }).ip, 'the two VMIDs start at one address');
  assert.notEqual(first, second);
  // A whole /24 full of VMs whose VMIDs all start at the same address: every one gets its own.
  const crowd: Record<number, Vm> = {};
  const fresh = Array.from({ length: 254 }, (_, n) => (crowd[100 + n * 254] = vm(100 + n * 254)));
  leaseDhcp(crowd, fresh, '10.9.8.0/24');
  assert.equal(new Set(fresh.map((v) => dhcpLease('10.9.8.0/24', v).ip)).size, 254);
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
