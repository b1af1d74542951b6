/**
 * Forwarding through a guest, asked from inside the guests over SSH: `a` on a clients VNet, a
 * Debian router on clients and servers, `b` on servers (each with a management NIC), set up as
 * Glassdome's installer sets up a lab with gateways: `ip route replace` on the ends, `sysctl -w
 * net.ipv4.ip_forward=1` on the router. Then the Proxmox firewall over the API, with the router's own
 * chains in the path; and the routes and the switch kept across a snapshot's rollback and a restart
 * of the simulator with its state file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '@glassdome/logger';
import { freePort, waitFor } from '@glassdome/testkit';
import type { Client } from 'ssh2';
import { type RunningSimulator, startSimulator } from '../src/index';
import type { Simulator } from '../src/sim';
import { sshExtension } from '../src/ssh/extension';
import { generateEd25519, sha256Fingerprint } from '../src/ssh/server/keys';
import { connect, type ExecResult, exec, pinnedHostKey } from './ssh-harness';

const dir = mkdtempSync(join(tmpdir(), 'pve-sim-routing-'));
const stateFile = join(dir, 'state.json');
const key = generateEd25519('trainee@test');
const logger = createLogger({ name: 'pve-sim-routing-test', level: 'silent', format: 'json' });
const root = { userid: 'root@pam' };

const a = 501;
const router = 502;
const b = 503;
/** The management NIC of each VM, after its lab NICs. */
const managementNic: Record<number, string> = { [a]: 'net1', [router]: 'net2', [b]: 'net1' };

let running: RunningSimulator;
let guestPort: number;
const clients = new Map<number, Client>();

function start(): Promise<RunningSimulator> {
  return startSimulator({
    port: 0,
    tls: false,
    timeScale: 0.01,
    sshPort: 0,
    guestSshPort: guestPort,
    stateFile,
    extensions: [sshExtension({ logger, clientKeyPath: join(dir, 'root_ed25519') })],
  });
}

async function call(method: 'GET' | 'POST' | 'PUT', path: string, params: Record<string, string> = {}) {
  const sim: Simulator = running.sim;
  const result = await sim.dispatch({ method, path, params, auth: root });
  assert.equal(result.status, 200, `${method} ${path}: ${result.message}`);
  if (typeof result.data === 'string' && result.data.startsWith('UPID:')) {
    assert.equal((await sim.waitForTask(result.data)).exitstatus, 'OK');
  }
  return result.data;
}

/** Logs in as trainee once the guest's SSH listens, pinning the host key its disk keeps. */
async function login(vmid: number): Promise<Client> {
  clients.get(vmid)?.end();
  const sim = running.sim;
  const hostKey = await waitFor(`guest ${vmid} host key`, () => sim.state.vms[vmid]?.guest?.hostKey?.publicKey);
  const client = await waitFor(`guest ${vmid} SSH`, async () => {
    const ip = sim.guest(vmid)?.ip;
    if (!ip || !sim.guest(vmid)?.up) return undefined;
    return connect({
      host: ip,
      port: guestPort,
      username: 'trainee',
      privateKey: key.privateKey,
      hostVerifier: pinnedHostKey(sha256Fingerprint(hostKey)),
    }).catch(() => undefined);
  });
  clients.set(vmid, client);
  return client;
}

async function boot(vmid: number, name: string, nets: string[], ipconfigs: string[]): Promise<void> {
  await call('POST', '/nodes/pve01/qemu/9000/clone', { newid: String(vmid), name });
  const config: Record<string, string> = { ciuser: 'trainee', sshkeys: encodeURIComponent(key.publicKey) };
  nets.forEach((net, index) => {
    config[`net${index}`] = `virtio,${net}`;
  });
  ipconfigs.forEach((ipconfig, index) => {
    config[`ipconfig${index}`] = ipconfig;
  });
  await call('PUT', `/nodes/pve01/qemu/${vmid}/config`, config);
  await call('POST', `/nodes/pve01/qemu/${vmid}/status/start`);
  await login(vmid);
}

function run(vmid: number, command: string): Promise<ExecResult> {
  return exec(clients.get(vmid)!, command);
}

async function ok(vmid: number, command: string): Promise<string> {
  const result = await run(vmid, command);
  assert.equal(result.code, 0, `${command}: ${result.stderr}`);
  return result.stdout;
}

/** Waits for pve-firewall's next compile after now. */
async function nextCompile(): Promise<void> {
  const since = Date.now();
  await waitFor('firewall compile', () => running.sim.firewall.active.compiledAt > since, { timeoutMs: 20_000 });
}

const reaches = async (from: number, target: string) => (await run(from, `nc -z -w 1 ${target}`)).code === 0;

before(async () => {
  guestPort = await freePort();
  running = await start();
  await call('POST', '/cluster/sdn/zones', { zone: 'gdlab', type: 'vlan', bridge: 'vmbr0' });
  await call('POST', '/cluster/sdn/vnets', { vnet: 'clients', zone: 'gdlab', tag: '301' });
  await call('POST', '/cluster/sdn/vnets', { vnet: 'servers', zone: 'gdlab', tag: '302' });
  await call('PUT', '/cluster/sdn');
  const mgmt = 'bridge=vmbr0,firewall=1';
  await boot(a, 'client-a', ['bridge=clients,firewall=1', mgmt], ['ip=10.30.0.5/24', 'ip=dhcp']);
  await boot(
    router,
    'debian-router',
    ['bridge=clients,firewall=1', 'bridge=servers,firewall=1', mgmt],
    ['ip=10.30.0.1/24', 'ip=10.31.0.1/24', 'ip=dhcp'],
  );
  await boot(b, 'server-b', ['bridge=servers,firewall=1', mgmt], ['ip=10.31.0.20/24', 'ip=dhcp']);
  await ok(
    b,
    'sudo apt-get install -y nginx && sudo systemctl enable --now nginx && sudo mkdir -p /var/www/html && echo served-by-b | sudo tee /var/www/html/index.html',
  );
});

after(async () => {
  for (const client of clients.values()) client.end();
  await running.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('routes set with ip route replace show in ip route; without forwarding nothing crosses the router', async () => {
  await ok(a, "sudo ip route replace '10.31.0.0/24' via '10.30.0.1'");
  await ok(b, "sudo ip route replace '10.30.0.0/24' via '10.31.0.1'");
  assert.match(
    await ok(a, 'ip route'),
    /^10\.30\.0\.0\/24 dev ens18 proto kernel scope link src 10\.30\.0\.5 \n10\.31\.0\.0\/24 via 10\.30\.0\.1 dev ens18 \n/m,
  );
  assert.equal(
    await ok(a, 'ip route get 10.31.0.20'),
    '10.31.0.20 via 10.30.0.1 dev ens18 src 10.30.0.5 uid 1000 \n    cache \n',
  );
  assert.equal(await ok(router, 'sysctl net.ipv4.ip_forward'), 'net.ipv4.ip_forward = 0\n');
  const blocked = await run(a, 'nc -zv -w 1 10.31.0.20 80');
  assert.deepEqual(
    [blocked.code, blocked.stderr],
    [1, 'nc: connect to 10.31.0.20 port 80 (tcp) timed out: Operation now in progress\n'],
  );
  assert.equal((await run(a, 'ping -c 1 -W 1 10.31.0.20')).code, 1);
  assert.equal(await reaches(a, `10.31.0.1 ${guestPort}`), true, "the router's own address on servers is local to it");
});

test('with net.ipv4.ip_forward=1 on the router: nc, ping (TTL 63) and curl both ways', async () => {
  assert.equal(await ok(router, 'sudo sysctl -w net.ipv4.ip_forward=1'), 'net.ipv4.ip_forward = 1\n');
  const nc = await run(a, 'nc -zv -w 1 10.31.0.20 80');
  assert.deepEqual([nc.code, nc.stderr], [0, 'Connection to 10.31.0.20 80 port [tcp/http] succeeded!\n']);
  const refused = await run(a, 'nc -zv -w 1 10.31.0.20 81');
  assert.equal(refused.stderr, 'nc: connect to 10.31.0.20 port 81 (tcp) failed: Connection refused\n');
  assert.match(await ok(a, 'ping -c 2 10.31.0.20'), /64 bytes from 10\.31\.0\.20: icmp_seq=1 ttl=63 /);
  assert.equal(await ok(a, 'curl -s http://10.31.0.20/'), 'served-by-b\n');
  assert.equal(await reaches(b, `10.30.0.5 ${guestPort}`), true, 'b reaches a the other way');
  assert.match(
    (await run(a, 'ping -c 1 10.31.0.99')).stdout,
    /From 10\.30\.0\.1 icmp_seq=1 Destination Host Unreachable/,
  );
});

test("the Proxmox firewall: transit must pass the router's IN chain on clients and its OUT chain on servers", async () => {
  await call('PUT', '/cluster/firewall/options', { enable: '1' });
  const rule = (vmid: number, fields: Record<string, string>) =>
    call('POST', `/nodes/pve01/qemu/${vmid}/firewall/rules`, { enable: '1', ...fields });
  for (const vmid of [a, router, b]) {
    await call('PUT', `/nodes/pve01/qemu/${vmid}/firewall/options`, {
      enable: '1',
      policy_in: 'DROP',
      policy_out: 'DROP',
    });
    await rule(vmid, {
      type: 'in',
      action: 'ACCEPT',
      proto: 'tcp',
      dport: String(guestPort),
      source: '127.0.0.1',
      iface: managementNic[vmid]!,
    });
  }
  const web = { proto: 'tcp', dport: '80' };
  await rule(a, { type: 'out', action: 'ACCEPT', iface: 'net0', dest: '10.31.0.20', ...web });
  await rule(b, { type: 'in', action: 'ACCEPT', iface: 'net0', source: '10.30.0.0/24', ...web });
  await nextCompile();
  assert.equal(await reaches(a, '10.31.0.20 80'), false, "the router's IN chain drops transit by policy");
  await rule(router, {
    type: 'in',
    action: 'ACCEPT',
    iface: 'net0',
    source: '10.30.0.0/24',
    dest: '10.31.0.20',
    ...web,
  });
  await nextCompile();
  assert.equal(await reaches(a, '10.31.0.20 80'), false, 'then its OUT chain on the servers NIC');
  await rule(router, {
    type: 'out',
    action: 'ACCEPT',
    iface: 'net1',
    source: '10.30.0.0/24',
    dest: '10.31.0.20',
    ...web,
  });
  await nextCompile();
  assert.equal(await reaches(a, '10.31.0.20 80'), true, 'answers ride conntrack');
  assert.equal(await ok(a, 'curl -s -m 2 http://10.31.0.20/'), 'served-by-b\n');
  assert.equal(await reaches(a, `10.31.0.20 ${guestPort}`), false, 'only the allowed port');
  assert.equal(await reaches(b, `10.30.0.5 ${guestPort}`), false, 'and only that direction');
});

test('routes and the forwarding switch are on the guest disks: a rollback brings them back, a restart keeps them', async () => {
  await call('POST', `/nodes/pve01/qemu/${router}/snapshot`, { snapname: 'routing' });
  await ok(router, 'sudo sysctl -w net.ipv4.ip_forward=0');
  assert.equal(await reaches(a, '10.31.0.20 80'), false);
  await call('POST', `/nodes/pve01/qemu/${router}/snapshot/routing/rollback`);
  await call('POST', `/nodes/pve01/qemu/${router}/status/start`);
  await login(router);
  assert.equal(await ok(router, 'sysctl net.ipv4.ip_forward'), 'net.ipv4.ip_forward = 1\n');
  assert.equal(await waitFor('forwarding after the rollback', () => reaches(a, '10.31.0.20 80')), true);

  for (const client of clients.values()) client.end();
  clients.clear();
  await running.stop();
  running = await start();
  for (const vmid of [a, router, b]) await login(vmid);
  assert.match(await ok(a, 'ip route show 10.31.0.0/24'), /^10\.31\.0\.0\/24 via 10\.30\.0\.1 dev ens18 \n$/);
  assert.equal(await reaches(a, '10.31.0.20 80'), true, 'routes, forwarding and firewall as they were');
  assert.equal(await reaches(a, `10.31.0.20 ${guestPort}`), false);
});
