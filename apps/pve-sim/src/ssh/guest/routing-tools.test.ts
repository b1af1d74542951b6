import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Simulator } from '../../sim';
import type { Vm } from '../../state/types';
import { guestCommands } from './guest-commands';
import { GuestMachine } from './guest-machine';
import { GuestNetwork } from './guest-network';
import { guestOsProfiles } from './os-profiles';

const sim = new Simulator({ timeScale: 0.001, seed: 5, withTemplate: false });
after(() => sim.stop());
sim.state.sdn.zones.lab = { type: 'vlan', bridge: 'vmbr0' };
sim.state.sdn.vnets.clients = { vnet: 'clients', zone: 'lab', tag: 301 };
sim.state.sdn.vnets.servers = { vnet: 'servers', zone: 'lab', tag: 302 };
const machines = new Map<number, GuestMachine>();
const network = new GuestNetwork(sim, (vmid) => machines.get(vmid));

/** A booted guest whose machine keeps its disk on the VM, as the SSH side's guests do. */
function guest(vmid: number, os: 'ubuntu-22.04' | 'debian-12', nets: string[], ipconfigs: string[]) {
  const config: Record<string, string> = {};
  nets.forEach((net, index) => {
    config[`net${index}`] = `virtio=BC:24:11:00:${vmid % 100}:0${index},${net}`;
  });
  ipconfigs.forEach((ipconfig, index) => {
    config[`ipconfig${index}`] = ipconfig;
  });
  const vm: Vm = { vmid, node: 'pve01', status: 'running', config, snapshots: {}, bootedAt: Date.now() - 1 };
  sim.state.vms[vmid] = vm;
  const machine = new GuestMachine(
    { vmid, smbiosUuid: `uuid-${vmid}`, os: guestOsProfiles[os], hostname: `vm${vmid}`, user: 'trainee' },
    () => undefined,
  );
  sim.attachGuestDisk(vm, machine.disk);
  machines.set(vmid, machine);
  return async (script: string, user = 'root') => {
    let stdout = '';
    let stderr = '';
    const shell = machine.shell(user, guestCommands(machine, network.forGuest(vmid)));
    const code = await shell.run(script, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
    return { code, stdout, stderr };
  };
}

const mgmt = 'bridge=vmbr0';
const a = guest(601, 'ubuntu-22.04', ['bridge=clients', mgmt], ['ip=10.30.0.5/24']);
const router = guest(
  602,
  'debian-12',
  ['bridge=clients', 'bridge=servers', mgmt],
  ['ip=10.30.0.1/24', 'ip=10.31.0.1/24'],
);
const b = guest(603, 'ubuntu-22.04', ['bridge=servers', mgmt], ['ip=10.31.0.20/24']);

test('ip route add|replace|del change the table ip route shows, with the kernel’s refusals', async () => {
  assert.deepEqual(await a('ip route add 10.31.0.0/24 via 10.30.0.1', 'trainee'), {
    code: 2,
    stdout: '',
    stderr: 'RTNETLINK answers: Operation not permitted\n',
  });
  assert.deepEqual(await a('ip route replace 10.31.0.0/24 via 10.30.0.1'), { code: 0, stdout: '', stderr: '' });
  assert.deepEqual(await a('ip route replace 10.31.0.0/24 via 10.30.0.1'), { code: 0, stdout: '', stderr: '' });
  assert.equal(
    (await a('ip route')).stdout,
    [
      'default via 127.64.0.1 dev ens19 proto dhcp src 127.64.2.89 metric 100 ',
      '10.30.0.0/24 dev ens18 proto kernel scope link src 10.30.0.5 ',
      '10.31.0.0/24 via 10.30.0.1 dev ens18 ',
      '127.64.0.0/16 dev ens19 proto kernel scope link src 127.64.2.89 metric 100 ',
      '127.64.0.1 dev ens19 proto dhcp scope link src 127.64.2.89 metric 100 ',
      '',
    ].join('\n'),
  );
  assert.equal((await a('ip route show dev ens18')).stdout.split('\n').length, 3);
  assert.equal((await a('ip r s 10.31.0.0/24')).stdout, '10.31.0.0/24 via 10.30.0.1 dev ens18 \n');
  assert.deepEqual(JSON.parse((await a('ip -j route show 10.31.0.0/24')).stdout), [
    { dst: '10.31.0.0/24', gateway: '10.30.0.1', dev: 'ens18', flags: [] },
  ]);
  assert.equal(
    (await a('ip route get 10.31.0.20')).stdout,
    '10.31.0.20 via 10.30.0.1 dev ens18 src 10.30.0.5 uid 0 \n    cache \n',
  );
  const refusals: Array<[string, number, string]> = [
    ['ip route add 10.31.0.0/24 via 10.30.0.1', 2, 'RTNETLINK answers: File exists\n'],
    ['ip route add 10.32.0.0/24 via 10.99.0.1', 2, 'Error: Nexthop has invalid gateway.\n'],
    ['ip route add 10.32.0.0/24 via 10.30.0.1 dev ens19', 2, 'Error: Nexthop has invalid gateway.\n'],
    ['ip route add 10.32.0.1/24 via 10.30.0.1', 2, 'Error: Invalid prefix for given prefix length.\n'],
    ['ip route add 10.32.0.0/33 via 10.30.0.1', 1, 'Error: any valid prefix is expected rather than "10.32.0.0/33".\n'],
    ['ip route add 10.32.0.0/24 via gateway', 1, 'Error: any valid address is expected rather than "gateway".\n'],
    ['ip route add 10.32.0.0/24 via 10.30.0.1 dev eth9', 1, 'Cannot find device "eth9"\n'],
    ['ip route add 10.32.0.0/24', 2, 'RTNETLINK answers: No such device\n'],
    ['ip route del 10.99.0.0/24', 2, 'RTNETLINK answers: No such process\n'],
    ['ip route change 10.99.0.0/24 via 10.30.0.1', 2, 'RTNETLINK answers: No such file or directory\n'],
  ];
  for (const [command, code, stderr] of refusals) {
    assert.deepEqual(await a(command), { code, stdout: '', stderr }, command);
  }
  assert.equal(
    (await a('ip route add 10.40.0.0/16 dev ens18 metric 50 && ip route show 10.40.0.0/16')).stdout,
    '10.40.0.0/16 dev ens18 scope link metric 50 \n',
  );
  assert.equal((await a('ip route del 10.40.0.0/16 && ip route show 10.40.0.0/16')).stdout, '');
  assert.equal((await a('ip route del default && ip route get 198.51.100.10')).code, 2, 'the default route can go too');
  assert.equal((await a('ip route add default via 127.64.0.1 dev ens19 proto dhcp metric 100')).code, 0);
  assert.equal((await a('ip route get 198.51.100.10')).code, 0);
  assert.deepEqual(
    machines.get(601)!.disk.routes,
    [
      { destination: '10.31.0.0/24', dev: 'ens18', via: '10.30.0.1' },
      { destination: 'default', dev: 'ens19', metric: 100, deleted: true },
      { destination: 'default', dev: 'ens19', via: '127.64.0.1', metric: 100, proto: 'dhcp' },
    ],
    'kept on the disk record',
  );
});

test('sysctl: ip_forward and conf.all.forwarding are one switch that resets every NIC’s', async () => {
  assert.equal((await router('sysctl net.ipv4.ip_forward')).stdout, 'net.ipv4.ip_forward = 0\n');
  assert.equal((await router('sysctl -w net.ipv4.conf.ens18.forwarding=1')).code, 0);
  assert.equal((await router('sysctl -w net/ipv4/ip_forward=1')).stdout, 'net.ipv4.ip_forward = 1\n');
  assert.equal(
    (await router('sysctl net.ipv4.conf.all.forwarding net.ipv4.conf.ens19.forwarding')).stdout,
    'net.ipv4.conf.all.forwarding = 1\nnet.ipv4.conf.ens19.forwarding = 1\n',
  );
  assert.equal(
    (await router('sysctl -w net.ipv4.ip_forward=0 >/dev/null && sysctl net.ipv4.conf.ens18.forwarding')).stdout,
    'net.ipv4.conf.ens18.forwarding = 0\n',
  );
  assert.deepEqual(machines.get(602)!.disk.kernelParameters, {
    'net.ipv4.ip_forward': '0',
    'net.ipv4.conf.all.forwarding': '0',
  });
});

test('through the router: nothing while it does not forward, then nc, ping (TTL 63) and curl', async () => {
  assert.equal(
    (
      await b(
        'apt-get install -y nginx && systemctl enable --now nginx && mkdir -p /var/www/html && echo servers-web > /var/www/html/index.html',
      )
    ).code,
    0,
  );
  assert.equal((await b('ip route replace 10.30.0.0/24 via 10.31.0.1')).code, 0);
  assert.deepEqual(await a('nc -zv -w 1 10.31.0.20 80'), {
    code: 1,
    stdout: '',
    stderr: 'nc: connect to 10.31.0.20 port 80 (tcp) timed out: Operation now in progress\n',
  });
  assert.equal((await a('nc -z -w 1 10.31.0.1 22')).code, 0, "the router's own address on servers answers");
  assert.equal((await router('sysctl -w net.ipv4.ip_forward=1')).code, 0);
  assert.deepEqual(await a('nc -zv -w 1 10.31.0.20 80'), {
    code: 0,
    stdout: '',
    stderr: 'Connection to 10.31.0.20 80 port [tcp/http] succeeded!\n',
  });
  const ping = await a('ping -c 2 10.31.0.20');
  assert.equal(ping.code, 0);
  assert.match(ping.stdout, /64 bytes from 10\.31\.0\.20: icmp_seq=1 ttl=63 time=/);
  assert.equal((await a('curl -s http://10.31.0.20/')).stdout, 'servers-web\n');
  assert.match((await b('ping -c 1 10.30.0.5')).stdout, /ttl=63/);
});

test('ICMP errors from the router: net unreachable, host unreachable; no way back means silence', async () => {
  assert.equal((await a('ip route add 10.50.0.0/24 via 10.30.0.1')).code, 0);
  assert.equal((await router('ip route del default')).code, 0);
  const net = await a('ping -c 2 10.50.0.9');
  assert.equal(net.code, 1);
  assert.match(
    net.stdout,
    /From 10\.30\.0\.1 icmp_seq=1 Destination Net Unreachable\nFrom 10\.30\.0\.1 icmp_seq=2 Destination Net Unreachable\n[\s\S]*2 packets transmitted, 0 received, \+2 errors, 100% packet loss/,
  );
  assert.deepEqual(await a('nc -zv 10.50.0.9 80'), {
    code: 1,
    stdout: '',
    stderr: 'nc: connect to 10.50.0.9 port 80 (tcp) failed: Network is unreachable\n',
  });
  assert.match((await a('ping -c 1 10.31.0.99')).stdout, /From 10\.30\.0\.1 icmp_seq=1 Destination Host Unreachable/);
  assert.equal(
    (await a('curl -sS http://10.31.0.99/')).stderr,
    'curl: (7) Failed to connect to 10.31.0.99 port 80 after 3000 ms: No route to host\n',
  );
  assert.equal((await b('ip route del 10.30.0.0/24')).code, 0);
  assert.equal((await a('nc -z -w 1 10.31.0.20 80')).code, 1, 'b answers into its default route: a hears nothing');
});
