/**
 * What guests can reach, asked from inside them over SSH: two copies of a lab (dmz + internal
 * VNets, a dual-homed web server, a db, an attacker) with identical addresses, the Proxmox firewall
 * set over the HTTP API, `ip`/`ping`/`nc`/`curl` answering by the packet model, the apply delay.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '@glassdome/logger';
import { freePort, waitFor } from '@glassdome/testkit';
import { Client } from 'ssh2';
import { type SimulatorSsh, startSimulatorSsh } from '../src/ssh';
import { generateEd25519, sha256Fingerprint } from '../src/ssh/server/keys';
import { startTestSim, type TestSim } from './helpers';
import { connect, type ExecResult, exec, pinnedHostKey } from './ssh-harness';

let sim: TestSim;
let ssh: SimulatorSsh;
let guestPort: number;
let root: Record<string, string>;
const key = generateEd25519('trainee@test');
const clients = new Map<number, Client>();

const attacker = 401;
const web = 402;
const db = 403;
const web2 = 411;

async function api(method: string, path: string, params: Record<string, string> = {}) {
  const answer = await sim.api(method, path, params, root);
  assert.equal(answer.status, 200, `${method} ${path}: ${answer.status} ${answer.statusText} ${answer.text}`);
  const data = answer.body?.data;
  if (typeof data === 'string' && data.startsWith('UPID:')) assert.equal(await sim.waitTask(data, root), 'OK');
  return data;
}

/** A VM from the template with these NICs and addresses, started, its SSH up. */
async function boot(vmid: number, name: string, nets: string[], ipconfigs: string[]): Promise<void> {
  await api('POST', '/nodes/pve01/qemu/9000/clone', { newid: String(vmid), name });
  const config: Record<string, string> = { ciuser: 'trainee', sshkeys: encodeURIComponent(key.publicKey) };
  nets.forEach((net, index) => {
    config[`net${index}`] = `virtio,${net}`;
  });
  ipconfigs.forEach((ipconfig, index) => {
    config[`ipconfig${index}`] = ipconfig;
  });
  await api('PUT', `/nodes/pve01/qemu/${vmid}/config`, config);
  await api('POST', `/nodes/pve01/qemu/${vmid}/status/start`);
  await waitFor(`guest ${vmid} ssh`, () => ssh.guests.isListening(vmid));
  const machine = ssh.guests.machine(vmid)!;
  clients.set(
    vmid,
    await connect({
      host: sim.running.sim.guest(vmid)!.ip!,
      port: guestPort,
      username: 'trainee',
      privateKey: key.privateKey,
      hostVerifier: pinnedHostKey(sha256Fingerprint(machine.hostKey.publicKey)),
    }),
  );
}

function run(vmid: number, command: string): Promise<ExecResult> {
  return exec(clients.get(vmid)!, command);
}

/** Waits for pve-firewall's next compile after now. */
async function nextCompile(): Promise<void> {
  const since = Date.now();
  await waitFor('firewall compile', () => sim.running.sim.firewall.active.compiledAt > since, { timeoutMs: 20_000 });
}

before(async () => {
  // A slower firewall cycle (3 s here) leaves room to see a change before it is compiled.
  sim = await startTestSim({ latencies: { firewallUpdate: 300_000 } });
  root = await sim.rootAuth();
  guestPort = await freePort();
  const logger = createLogger({ name: 'guest-reachability-test', level: 'silent', format: 'json' });
  ssh = await startSimulatorSsh({ sim: sim.running.sim, port: 0, guestPort, logger });
  await api('POST', '/cluster/sdn/zones', { zone: 'gdlab', type: 'vlan', bridge: 'vmbr0' });
  for (const [vnet, tag] of [
    ['c1dmz', '101'],
    ['c1int', '102'],
    ['c2dmz', '201'],
  ]) {
    await api('POST', '/cluster/sdn/vnets', { vnet: vnet!, zone: 'gdlab', tag: tag! });
  }
  await api('PUT', '/cluster/sdn');
  const mgmt = 'bridge=vmbr0,firewall=1';
  await boot(attacker, 'kali-attacker', ['bridge=c1dmz,firewall=1', mgmt], ['ip=10.10.1.5/24', 'ip=dhcp']);
  await boot(
    web,
    'web',
    ['bridge=c1dmz,firewall=1', 'bridge=c1int,firewall=1', mgmt],
    ['ip=10.10.1.10/24', 'ip=10.10.2.10/24', 'ip=dhcp'],
  );
  await boot(db, 'db', ['bridge=c1int,firewall=1', mgmt], ['ip=10.10.2.20/24', 'ip=dhcp']);
  await boot(web2, 'web-copy2', ['bridge=c2dmz,firewall=1', mgmt], ['ip=10.10.1.10/24', 'ip=dhcp']);
  for (const [vmid, page] of [
    [web, 'copy one'],
    [web2, 'copy two'],
  ] as const) {
    const served = await run(
      vmid,
      `sudo apt-get install -y nginx && sudo systemctl enable --now nginx && sudo mkdir -p /var/www/html && echo '${page}' | sudo tee /var/www/html/index.html`,
    );
    assert.equal(served.code, 0, served.stderr);
  }
  const postgres = await run(db, 'sudo apt-get install -y postgresql && sudo systemctl start postgresql');
  assert.equal(postgres.code, 0, postgres.stderr);
});

after(async () => {
  for (const client of clients.values()) client.end();
  await ssh.close();
  await sim.stop();
});

test('ip shows every NIC in net order with its address, routes, and the agent lists them too', async () => {
  const brief = await run(web, 'ip -br -4 addr');
  assert.equal(brief.code, 0, brief.stderr);
  assert.match(brief.stdout, /^lo {15}UNKNOWN {8}127\.0\.0\.1\/8 \n/);
  assert.match(
    brief.stdout,
    /^ens18 +UP +10\.10\.1\.10\/24 \nens19 +UP +10\.10\.2\.10\/24 \nens20 +UP +127\.64\.1\.146\/16 \n$/m,
  );
  const full = await run(web, 'ip addr show ens20');
  assert.match(full.stdout, /inet 127\.64\.1\.146\/16 metric 100 brd 127\.64\.255\.255 scope global dynamic ens20/);
  const routes = await run(attacker, 'ip route');
  assert.equal(
    routes.stdout,
    [
      'default via 127.64.0.1 dev ens19 proto dhcp src 127.64.1.145 metric 100 ',
      '10.10.1.0/24 dev ens18 proto kernel scope link src 10.10.1.5 ',
      '127.64.0.0/16 dev ens19 proto kernel scope link src 127.64.1.145 metric 100 ',
      '127.64.0.1 dev ens19 proto dhcp scope link src 127.64.1.145 metric 100 ',
      '',
    ].join('\n'),
  );
  const json = JSON.parse((await run(db, 'ip -j -4 addr')).stdout) as Array<{
    ifname: string;
    addr_info: Array<{ local: string }>;
  }>;
  assert.deepEqual(
    json.map((entry) => [entry.ifname, entry.addr_info[0]?.local]),
    [
      ['lo', '127.0.0.1'],
      ['ens18', '10.10.2.20'],
      ['ens19', '127.64.1.147'],
    ],
  );
  await waitFor('agent of web', () => sim.running.sim.guest(web)?.agentUp);
  const agent = (await api('GET', `/nodes/pve01/qemu/${web}/agent/network-get-interfaces`)) as {
    result: Array<{ name: string; 'ip-addresses': Array<{ 'ip-address': string }> }>;
  };
  assert.deepEqual(
    agent.result.map((nic) => [nic.name, nic['ip-addresses'][0]?.['ip-address']]),
    [
      ['lo', '127.0.0.1'],
      ['ens18', '10.10.1.10'],
      ['ens19', '10.10.2.10'],
      ['ens20', '127.64.1.146'],
    ],
  );
});

test('without firewall rules: the dmz answers, the internal network has no route, the outside is reached', async () => {
  assert.equal((await run(attacker, 'nc -z -w 1 10.10.1.10 80')).code, 0);
  assert.equal(
    (await run(attacker, 'curl -s http://10.10.1.10/')).stdout,
    'copy one\n',
    "copy 1's web, never copy 2's",
  );
  assert.equal((await run(web2, 'curl -s http://10.10.1.10/')).stdout, 'copy two\n');
  const closed = await run(attacker, 'nc -zv -w 1 10.10.1.10 5432');
  assert.deepEqual(
    [closed.code, closed.stderr],
    [1, '(UNKNOWN) [10.10.1.10] 5432 (postgresql) : Connection refused\n'],
  );
  assert.equal(
    (await run(attacker, 'nc -z -w 1 10.10.2.20 5432')).code,
    1,
    'internal space leaves by the uplink, which drops it',
  );
  const pingWeb = await run(attacker, 'ping -c 2 10.10.1.10');
  assert.equal(pingWeb.code, 0, pingWeb.stderr);
  assert.match(
    pingWeb.stdout,
    /^PING 10\.10\.1\.10 \(10\.10\.1\.10\) 56\(84\) bytes of data\.\n64 bytes from 10\.10\.1\.10: icmp_seq=1 ttl=64/,
  );
  assert.match(pingWeb.stdout, /2 packets transmitted, 2 received, 0% packet loss/);
  const outside = await run(attacker, 'curl -s -o /dev/null -w "%{http_code}" http://example.test/');
  assert.deepEqual([outside.code, outside.stdout], [0, '200']);
  assert.equal((await run(web, 'nc -z -w 1 10.10.2.20 5432')).code, 0, 'the dual-homed web reaches the db');
});

test('firewall rules over the API filter from the next compile on: dmz to web only, internal to db only, no egress', async () => {
  // Restarting pve-firewall compiles at once and starts its cycle afresh: the next compile is a period away.
  await api('POST', '/nodes/pve01/services/pve-firewall/restart');
  const compiledAt = sim.running.sim.firewall.active.compiledAt;
  await api('PUT', '/cluster/firewall/options', { enable: '1' });
  const allow = (vmid: number, rule: Record<string, string>) =>
    api('POST', `/nodes/pve01/qemu/${vmid}/firewall/rules`, { enable: '1', ...rule });
  for (const vmid of [attacker, web, db, web2]) {
    await api('PUT', `/nodes/pve01/qemu/${vmid}/firewall/options`, {
      enable: '1',
      policy_in: 'DROP',
      policy_out: 'DROP',
    });
  }
  await allow(attacker, { type: 'out', action: 'ACCEPT', dest: '10.10.1.0/24', iface: 'net0' });
  await allow(web, { type: 'in', action: 'ACCEPT', macro: 'HTTP', source: '10.10.1.0/24', iface: 'net0' });
  await allow(web, { type: 'out', action: 'ACCEPT', proto: 'tcp', dport: '5432', dest: '10.10.2.20', iface: 'net1' });
  await allow(db, { type: 'in', action: 'ACCEPT', macro: 'PostgreSQL', source: '10.10.2.10', iface: 'net0' });
  assert.equal(
    (await run(attacker, 'curl -s -m 2 -o /dev/null -w "%{http_code}" http://example.test/')).stdout,
    '200',
    'still the old rules: pve-firewall has not compiled yet',
  );
  assert.equal(sim.running.sim.firewall.active.compiledAt, compiledAt, 'the check above ran before the next compile');
  await nextCompile();
  assert.equal((await run(attacker, 'nc -z -w 1 10.10.1.10 80')).code, 0, 'attacker → web:80 allowed');
  const denied = await run(attacker, 'nc -zv -w 1 10.10.1.10 22');
  assert.deepEqual([denied.code, denied.stderr], [1, '(UNKNOWN) [10.10.1.10] 22 (ssh) : Connection timed out\n']);
  assert.equal((await run(attacker, 'nc -z -w 1 10.10.2.20 5432')).code, 1, 'attacker → db fails');
  assert.equal((await run(attacker, 'nc -z -w 1 10.10.2.10 80')).code, 1, "attacker → web's internal address fails");
  const egress = await run(attacker, 'curl -sS -m 2 http://198.51.100.10/');
  assert.deepEqual([egress.code, egress.stderr], [28, 'curl: (28) Connection timed out after 2000 milliseconds\n']);
  const named = await run(attacker, 'curl -sS -m 2 http://example.test/');
  assert.deepEqual(
    [named.code, named.stderr],
    [6, 'curl: (6) Could not resolve host: example.test\n'],
    'DNS is egress too',
  );
  assert.equal((await run(web, 'nc -z -w 1 10.10.2.20 5432')).code, 0, 'web → db:5432 allowed');
  const dbSsh = await run(web, 'nc -zv -w 1 10.10.2.20 22');
  assert.deepEqual(
    [dbSsh.code, dbSsh.stderr],
    [1, 'nc: connect to 10.10.2.20 port 22 (tcp) timed out: Operation now in progress\n'],
  );
  const lost = await run(attacker, 'ping -c 2 -W 1 10.10.1.10');
  assert.equal(lost.code, 1);
  assert.match(lost.stdout, /2 packets transmitted, 0 received, 100% packet loss/);
});

test("a new SSH login passes the management NIC's firewall: dropped until tcp to the guest SSH port from the management host is allowed", async () => {
  const config = {
    host: sim.running.sim.guest(web)!.ip!,
    port: guestPort,
    username: 'trainee',
    privateKey: key.privateKey,
    hostVerifier: () => true,
  };
  // The refused client reports its lost connection again later: it keeps an error listener.
  const refused = new Client();
  const firstError = new Promise<Error>((resolve) => refused.on('error', resolve));
  refused.connect({ ...config, readyTimeout: 1500 });
  assert.match(
    (await firstError).message,
    /Timed out while waiting for handshake/,
    'policy_in DROP on the management NIC',
  );
  refused.end();
  assert.equal((await run(web, 'true')).code, 0, 'an established session goes on (conntrack)');
  // The macro SSH (tcp/22) would not do: the guests' sshd listens where the simulator serves them.
  await api('POST', `/nodes/pve01/qemu/${web}/firewall/rules`, {
    type: 'in',
    action: 'ACCEPT',
    macro: 'SSH',
    source: '127.0.0.1',
    iface: 'net2',
    enable: '1',
  });
  await nextCompile();
  const stillDropped = new Client();
  const droppedAgain = new Promise<Error>((resolve) => stillDropped.on('error', resolve));
  stillDropped.connect({ ...config, readyTimeout: 1500 });
  assert.match((await droppedAgain).message, /Timed out while waiting for handshake/);
  stillDropped.end();
  await api('POST', `/nodes/pve01/qemu/${web}/firewall/rules`, {
    type: 'in',
    action: 'ACCEPT',
    proto: 'tcp',
    dport: String(guestPort),
    source: '127.0.0.1',
    iface: 'net2',
    enable: '1',
  });
  await nextCompile();
  const admitted = await connect(config);
  admitted.end();
});

test('stopping pve-firewall on the node takes every rule away until it starts again', async () => {
  await api('POST', '/nodes/pve01/services/pve-firewall/stop');
  assert.equal((await run(attacker, `nc -z -w 1 10.10.1.10 ${guestPort}`)).code, 0, "web's sshd");
  assert.equal((await run(attacker, 'nc -z -w 1 10.10.1.10 22')).code, 1, 'sshd listens on the guest SSH port only');
  await api('POST', '/nodes/pve01/services/pve-firewall/start');
  assert.equal((await run(attacker, `nc -z -w 1 10.10.1.10 ${guestPort}`)).code, 1);
});

test('a listener started with systemd-run answers once the firewall lets it; ss lists it', async () => {
  const started = await run(web, 'sudo systemd-run --unit=echo8080 nc -lk -p 8080');
  assert.deepEqual([started.code, started.stderr], [0, 'Running as unit: echo8080.service\n']);
  assert.match((await run(web, 'ss -tln')).stdout, /LISTEN .* 0\.0\.0\.0:8080 /);
  assert.equal((await run(attacker, 'nc -z -w 1 10.10.1.10 8080')).code, 1, 'policy_in DROP');
  await api('POST', `/nodes/pve01/qemu/${web}/firewall/rules`, {
    type: 'in',
    action: 'ACCEPT',
    proto: 'tcp',
    dport: '8080',
    enable: '1',
  });
  await nextCompile();
  assert.equal((await run(attacker, 'nc -z -w 1 10.10.1.10 8080')).code, 0);
  assert.equal((await run(web, 'sudo systemctl stop echo8080')).code, 0);
  const refused = await run(attacker, 'nc -zv -w 1 10.10.1.10 8080');
  assert.deepEqual(
    [refused.code, refused.stderr],
    [1, '(UNKNOWN) [10.10.1.10] 8080 (http-alt) : Connection refused\n'],
  );
});
