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
sim.state.sdn.vnets.dmz = { vnet: 'dmz', zone: 'lab', tag: 101 };
const machines = new Map<number, GuestMachine>();
const network = new GuestNetwork(sim, (vmid) => machines.get(vmid));

function guest(vmid: number, os: 'ubuntu-22.04' | 'kali', config: Record<string, string>) {
  const vm: Vm = { vmid, node: 'pve01', status: 'running', config, snapshots: {}, bootedAt: Date.now() - 1 };
  sim.state.vms[vmid] = vm;
  const machine = new GuestMachine(
    { vmid, smbiosUuid: `uuid-${vmid}`, os: guestOsProfiles[os], hostname: `vm${vmid}`, user: 'trainee' },
    () => undefined,
  );
  machines.set(vmid, machine);
  const shell = (user: string) => machine.shell(user, guestCommands(machine, network.forGuest(vmid)));
  return async (script: string, user = 'root') => {
    let stdout = '';
    let stderr = '';
    const code = await shell(user).run(script, {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
    });
    return { code, stdout, stderr };
  };
}

const ubuntu = guest(501, 'ubuntu-22.04', {
  net0: 'virtio=BC:24:11:00:05:01,bridge=dmz',
  net1: 'virtio=BC:24:11:00:05:02,bridge=vmbr0',
  ipconfig0: 'ip=10.10.1.10/24',
});
const kali = guest(502, 'kali', { net0: 'virtio=BC:24:11:00:05:03,bridge=dmz', ipconfig0: 'ip=10.10.1.5/24' });

test('ip addr in its layouts, ip route get, and changes needing root', async () => {
  assert.equal(
    (await ubuntu('ip -br addr')).stdout,
    [
      'lo               UNKNOWN        127.0.0.1/8 ::1/128 ',
      'ens18            UP             10.10.1.10/24 fe80::be24:11ff:fe00:501/64 ',
      'ens19            UP             127.64.1.245/16 fe80::be24:11ff:fe00:502/64 ',
      '',
    ].join('\n'),
  );
  const full = (await ubuntu('ip a s ens18')).stdout;
  assert.equal(
    full,
    [
      '2: ens18: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000',
      '    link/ether bc:24:11:00:05:01 brd ff:ff:ff:ff:ff:ff',
      '    altname enp0s18',
      '    inet 10.10.1.10/24 brd 10.10.1.255 scope global ens18',
      '       valid_lft forever preferred_lft forever',
      '    inet6 fe80::be24:11ff:fe00:501/64 scope link ',
      '       valid_lft forever preferred_lft forever',
      '',
    ].join('\n'),
  );
  assert.equal(
    (await ubuntu('ip route get 198.51.100.10')).stdout,
    '198.51.100.10 via 127.64.0.1 dev ens19 src 127.64.1.245 uid 0 \n    cache \n',
  );
  assert.deepEqual(await kali('ip route get 8.8.8.8'), {
    code: 2,
    stdout: '',
    stderr: 'RTNETLINK answers: Network is unreachable\n',
  });
  assert.equal((await ubuntu('ip link show dev ens99')).stderr, 'Device "ens99" does not exist.\n');
  assert.equal((await ubuntu('ip route add 10.0.0.0/8 via 10.10.1.1', 'trainee')).code, 2);
});

test('nc speaks OpenBSD netcat on Ubuntu and netcat-traditional on Kali', async () => {
  assert.deepEqual(await kali('nc -zv 10.10.1.10 22'), {
    code: 0,
    stdout: '',
    stderr: '(UNKNOWN) [10.10.1.10] 22 (ssh) open\n',
  });
  assert.deepEqual(await ubuntu('nc -zv 10.10.1.5 80'), {
    code: 1,
    stdout: '',
    stderr: 'nc: connect to 10.10.1.5 port 80 (tcp) failed: Connection refused\n',
  });
  assert.deepEqual(await ubuntu('nc -zv -w 1 10.10.1.99 80'), {
    code: 1,
    stdout: '',
    stderr: 'nc: connect to 10.10.1.99 port 80 (tcp) timed out: Operation now in progress\n',
  });
  assert.match(
    (await ubuntu('nc -zv 10.10.1.5 20-22')).stderr,
    /port 21 \(tcp\) failed[\s\S]*Connection to 10\.10\.1\.5 22 port \[tcp\/ssh\] succeeded!\n$/,
  );
  assert.equal((await kali('nc 10.10.1.10 22')).stdout, 'SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n');
  assert.deepEqual(await ubuntu('nc -z nosuchhost 80'), {
    code: 1,
    stdout: '',
    stderr: 'nc: getaddrinfo for host "nosuchhost" port 80: Name or service not known\n',
  });
});

test('ping: replies, an unknown name, a network without a route', async () => {
  const reply = await kali('ping -c 3 -q 10.10.1.10');
  assert.equal(reply.code, 0);
  assert.match(
    reply.stdout,
    /^PING 10\.10\.1\.10 \(10\.10\.1\.10\) 56\(84\) bytes of data\.\n\n--- 10\.10\.1\.10 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 2000ms\nrtt min\/avg\/max\/mdev = /,
  );
  const unknownHost = await kali('ping -c 1 10.10.1.77');
  assert.equal(unknownHost.code, 1);
  assert.match(
    unknownHost.stdout,
    /From 10\.10\.1\.5 icmp_seq=1 Destination Host Unreachable\n[\s\S]*1 packets transmitted, 0 received, \+1 errors, 100% packet loss/,
  );
  assert.deepEqual(await kali('ping -c 1 198.51.100.10'), {
    code: 2,
    stdout: '',
    stderr: 'ping: connect: Network is unreachable\n',
  });
  assert.equal(
    (await kali('ping -c 1 example.test')).stderr,
    'ping: example.test: Temporary failure in name resolution\n',
  );
  assert.match((await ubuntu('ping -c 1 example.test')).stdout, /^PING example\.test \(198\.51\.100\.10\)/);
});

test('curl reaches the outside and other guests; a listener started with systemd-run shows in ss', async () => {
  assert.equal(
    (await ubuntu('curl -s -o /dev/null -w "%{http_code} %{remote_ip}" https://www.example.test/')).stdout,
    '200 198.51.100.10',
  );
  assert.deepEqual(await kali('curl -sS http://10.10.1.10/'), {
    code: 7,
    stdout: '',
    stderr: "curl: (7) Failed to connect to 10.10.1.10 port 80 after 0 ms: Couldn't connect to server\n",
  });
  assert.equal((await ubuntu('systemd-run nc -lk -p 8080', 'trainee')).code, 1);
  assert.deepEqual(await ubuntu('systemd-run --unit web nc -lk -p 8080'), {
    code: 0,
    stdout: '',
    stderr: 'Running as unit: web.service\n',
  });
  assert.match(
    (await ubuntu('ss -tln')).stdout,
    /^LISTEN 0 +4096 +0\.0\.0\.0:22 .*\nLISTEN 0 +4096 +0\.0\.0\.0:8080 /m,
  );
  assert.equal(
    (await kali('curl -sS -w "%{http_code}" http://10.10.1.10:8080/')).stderr,
    'curl: (52) Empty reply from server\n',
  );
  assert.equal((await ubuntu('systemctl stop web')).code, 0);
  assert.equal((await kali('nc -z 10.10.1.10 8080')).code, 1);
});

test('a foreground nc -l returns once a connection arrives', async () => {
  const listening = ubuntu('nc -l -p 9000');
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.match((await ubuntu('ss -tln')).stdout, /0\.0\.0\.0:9000 /);
  assert.equal((await kali('nc -z 10.10.1.10 9000')).code, 0);
  assert.equal((await listening).code, 0);
  assert.doesNotMatch((await ubuntu('ss -tln')).stdout, /0\.0\.0\.0:9000 /);
});
