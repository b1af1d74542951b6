/** What the SSH side needs to know about a guest: who may log in, and at which address. */

import { accessNic, dhcpLease, guestNics, type TopologyContext } from './network/topology';
import { defaultBridge } from './state/defaults';
import type { Vm, VmConfig } from './state/types';
import { agentEnabled, parseProperties } from './state/vm-config';

export interface GuestView {
  vmid: number;
  node: string;
  name: string;
  status: 'running' | 'stopped';
  /** The guest OS has booted (its SSH daemon would answer). */
  up: boolean;
  /** The guest agent answers (false until its boot delay has passed, or with the agentNeverUp fault). */
  agentUp: boolean;
  /** The guest's management address (what its SSH listens on, see guestAddress). Set while up. */
  ip?: string;
  agentEnabled: boolean;
  ciuser?: string;
  /** `cipassword` as set through the API, for the guest's password login (never shown by the API). */
  cipassword?: string;
  /** Public keys, URL-decoded, one per entry. */
  sshkeys: string[];
  ipconfig0?: string;
  nameserver?: string;
  /** A copy of the VM config. */
  config: VmConfig;
}

const noSdn: TopologyContext['sdn'] = { zones: {}, vnets: {} };

/**
 * The address Glassdome and the guest's SSH server use: the management NIC's (static
 * `ipconfigN` or its lease), else, for a VM without a management NIC, its first NIC's.
 */
export function guestAddress(vm: Vm, subnet: string): { ip: string; prefix: number } {
  const nics = guestNics(vm, { guestSubnet: subnet, sdn: noSdn, bridges: [defaultBridge] });
  const access = accessNic(nics)?.address;
  if (access) return { ip: access.ip, prefix: access.prefix };
  const ip = vm.config.ipconfig0 ? parseProperties(vm.config.ipconfig0, 'ip').ip : undefined;
  if (ip && ip !== 'dhcp' && ip.includes('/')) {
    const [address, bits] = ip.split('/');
    return { ip: address!, prefix: Number(bits) };
  }
  return dhcpLease(subnet, vm);
}

export function guestView(vm: Vm, subnet: string, now = Date.now()): GuestView {
  const up = vm.status === 'running' && vm.startedAt !== undefined && vm.bootedAt !== undefined && vm.bootedAt <= now;
  const view: GuestView = {
    vmid: vm.vmid,
    node: vm.node,
    name: vm.config.name ?? `VM ${vm.vmid}`,
    status: vm.status,
    up,
    agentUp: up && agentEnabled(vm.config) && vm.agentUpAt !== undefined && vm.agentUpAt <= now,
    agentEnabled: agentEnabled(vm.config),
    sshkeys: vm.config.sshkeys
      ? decodeURIComponent(vm.config.sshkeys)
          .split('\n')
          .map((line) => line.trim())
          .filter(Boolean)
      : [],
    config: { ...vm.config },
  };
  if (up) view.ip = guestAddress(vm, subnet).ip;
  if (vm.config.ciuser) view.ciuser = vm.config.ciuser;
  if (vm.config.cipassword) view.cipassword = vm.config.cipassword;
  if (vm.config.ipconfig0) view.ipconfig0 = vm.config.ipconfig0;
  if (vm.config.nameserver) view.nameserver = vm.config.nameserver;
  return view;
}

/** The guest agent's `network-get-interfaces` result for a VM: loopback, then every NIC in `netN` order. */
export function agentInterfaces(vm: Vm, subnet: string): unknown[] {
  const lo = {
    name: 'lo',
    'hardware-address': '00:00:00:00:00:00',
    'ip-addresses': [
      { 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 },
      { 'ip-address-type': 'ipv6', 'ip-address': '::1', prefix: 128 },
    ],
    statistics: {
      'rx-bytes': 3724,
      'rx-dropped': 0,
      'rx-errs': 0,
      'rx-packets': 44,
      'tx-bytes': 3724,
      'tx-dropped': 0,
      'tx-errs': 0,
      'tx-packets': 44,
    },
  };
  const nics = guestNics(vm, { guestSubnet: subnet, sdn: noSdn, bridges: [defaultBridge] }).map((nic) => {
    const addresses: unknown[] = [];
    if (nic.address) {
      addresses.push({ 'ip-address-type': 'ipv4', 'ip-address': nic.address.ip, prefix: nic.address.prefix });
    }
    addresses.push({ 'ip-address-type': 'ipv6', 'ip-address': linkLocal(nic.mac), prefix: 64 });
    return {
      name: nic.name,
      'hardware-address': nic.mac,
      'ip-addresses': addresses,
      statistics: {
        'rx-bytes': 182312,
        'rx-dropped': 0,
        'rx-errs': 0,
        'rx-packets': 1043,
        'tx-bytes': 40211,
        'tx-dropped': 0,
        'tx-errs': 0,
        'tx-packets': 388,
      },
    };
  });
  return [lo, ...nics];
}

/** The EUI-64 link-local address of a MAC. */
export function linkLocal(mac: string): string {
  const b = mac.split(':').map((x) => Number.parseInt(x, 16));
  const bytes = [b[0]! ^ 2, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!];
  const groups = [0, 2, 4, 6].map((i) => ((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return `fe80::${groups.join(':')}`;
}
