/**
 * A lab as specified and contained (issues 13 and 14), end to end on the simulator: two networks, a
 * dual-homed web server with static addresses on both, a db with a grown disk, an attacker with a
 * trainee key, rules between them, no egress, two copies. The lab is `ready` only after the isolation
 * check agreed from inside the guests; then a trainee's view over SSH says the same.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SshPool, type SshTarget } from '@glassdome/ssh';
import { waitFor } from '@glassdome/testkit';
import { type Harness, memoryHostKeys, startHarness } from './harness';
import { onSimNode } from './node-ssh';

let harness: Harness;
const ssh = new SshPool();
before(async () => {
  harness = await startHarness({
    installers: 2,
    overseer: true,
    env: { ISOLATION_CHECK_SECONDS: '20', OVERSEER_SCAN_SECONDS: '2', API_RATE_LIMIT: '100000' },
  });
});
after(async () => {
  ssh.close();
  await harness?.stop();
});

type LabVm = {
  id: string;
  name: string;
  copy: number;
  vmid: number;
  status: string;
  access: { host: string; port: number; user: string } | null;
  addresses: { network: string; address: string }[];
};
type Pair = { copy: number; from: string; to: string; expected: string; observed: string; method: string };

function spec(userKey: string) {
  return {
    name: 'containment',
    copies: 2,
    networks: [
      { name: 'dmz', cidr: '10.10.1.0/24', egress: 'deny' },
      { name: 'internal', cidr: '10.10.2.0/24' },
    ],
    rules: [
      { from: 'dmz', to: 'web', ports: ['tcp/80'] },
      { from: 'web', to: 'db', ports: ['tcp/5432'] },
    ],
    vms: [
      {
        name: 'web',
        os: 'ubuntu-22.04',
        networks: [
          { name: 'dmz', ip: '10.10.1.10' },
          { name: 'internal', ip: '10.10.2.10' },
        ],
        cloudInit: { packages: ['nginx'] },
      },
      {
        name: 'db',
        os: 'ubuntu-22.04',
        diskGiB: 20,
        networks: [{ name: 'internal', ip: '10.10.2.20' }],
        cloudInit: { packages: ['postgresql'] },
      },
      {
        name: 'attacker',
        os: 'ubuntu-22.04',
        networks: ['dmz'],
        cloudInit: { user: 'trainee', sshKeys: [userKey] },
      },
    ],
  };
}

let lab: { id: string; status: string; vms: LabVm[]; isolation: { agreed: boolean; pairs: Pair[] } | null };

function vmOf(copy: number, name: string): LabVm {
  const vm = lab.vms.find((candidate) => candidate.copy === copy && candidate.name === name);
  assert.ok(vm, `copy ${copy} has ${name}`);
  return vm;
}

function asTrainee(vm: LabVm): SshTarget {
  assert.ok(vm.access, `${vm.name} says how to reach it`);
  return {
    host: vm.access.host,
    port: vm.access.port,
    username: 'trainee',
    privateKey: harness.userKey.privateKey,
    hostKey: { kind: 'tofu', store: memoryHostKeys() },
  };
}

async function sh(target: SshTarget, command: string[]) {
  return ssh.exec(target, command, { allowFailure: true, timeoutMs: 30_000 });
}

test('the lab deploys to ready only once its isolation check agreed, in both copies', async () => {
  const accepted = await harness.api('POST', '/api/v1/labs', spec(harness.userKey.publicKey));
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const id = String(accepted.body.id);
  lab = (await waitFor(
    'the lab to settle',
    async () => {
      const { body } = await harness.api('GET', `/api/v1/labs/${id}`);
      return ['ready', 'failed', 'degraded'].includes(String(body.status)) ? body : undefined;
    },
    { timeoutMs: 300_000, intervalMs: 500 },
  )) as typeof lab;
  assert.equal(
    lab.status,
    'ready',
    JSON.stringify({ error: (lab as { error?: string }).error, isolation: lab.isolation }),
  );
  assert.ok(lab.isolation?.agreed, 'the isolation check agreed');
  const pairs = lab.isolation!.pairs;
  assert.ok(
    pairs.some((pair) => pair.expected === 'reach' && pair.method === 'packet'),
    'allowed pairs were probed',
  );
  assert.ok(
    pairs.some((pair) => pair.expected === 'blocked' && pair.method === 'packet'),
    'denied pairs were probed',
  );
  assert.ok(
    pairs.some((pair) => pair.copy === 1),
    'the second copy was probed too',
  );
  assert.ok(pairs.every((pair) => pair.observed === 'not probed' || pair.observed === pair.expected));
});

test('qm config shows one NIC per network with the firewall on, the static ipconfigs, and the grown disk', async () => {
  const web = vmOf(0, 'web');
  const config = await onSimNode(harness.sim.info, ['qm', 'config', String(web.vmid)]);
  assert.match(config, /^net0: virtio=[0-9A-F:]+,bridge=\w+,firewall=1$/m);
  assert.match(config, /^net1: virtio=[0-9A-F:]+,bridge=\w+,firewall=1$/m);
  assert.match(config, /^net2: virtio=[0-9A-F:]+,bridge=vmbr0,firewall=1$/m, 'the management NIC comes last');
  assert.match(config, /^ipconfig0: ip=10\.10\.1\.10\/24$/m);
  assert.match(config, /^ipconfig1: ip=10\.10\.2\.10\/24$/m);
  assert.match(config, /^ipconfig2: ip=dhcp$/m);
  const db = await onSimNode(harness.sim.info, ['qm', 'config', String(vmOf(0, 'db').vmid)]);
  assert.match(db, /^scsi0: .*size=20G/m, 'the db disk grew to diskGiB');
  const other = await onSimNode(harness.sim.info, ['qm', 'config', String(vmOf(1, 'web').vmid)]);
  const bridgeOf = (text: string) => /^net0: [^,]+,bridge=(\w+)/m.exec(text)?.[1];
  assert.notEqual(bridgeOf(config), bridgeOf(other), "each copy's dmz is its own segment");
});

test('both copies use the same addresses, and each VM says how to reach it', () => {
  for (const name of ['web', 'db', 'attacker']) {
    assert.deepEqual(vmOf(0, name).addresses, vmOf(1, name).addresses);
    assert.ok(vmOf(0, name).access?.host);
  }
  assert.deepEqual(vmOf(0, 'web').addresses, [
    { network: 'dmz', address: '10.10.1.10/24' },
    { network: 'internal', address: '10.10.2.10/24' },
  ]);
});

test('from inside the attacker: web:80 answers; db, web’s internal side, the outside and the other copy do not', async () => {
  const attacker = asTrainee(vmOf(0, 'attacker'));
  const addresses = await sh(attacker, ['ip', '-4', 'addr']);
  assert.match(addresses.stdout, /inet 10\.10\.1\.\d+\/24/);
  const web80 = await sh(attacker, ['nc', '-z', '-v', '-w', '2', '10.10.1.10', '80']);
  assert.equal(web80.exitCode, 0, `web:80 is allowed: ${web80.stdout}${web80.stderr}`);
  assert.notEqual((await sh(attacker, ['nc', '-z', '-w', '2', '10.10.2.20', '5432'])).exitCode, 0, 'db:5432 is not');
  assert.notEqual((await sh(attacker, ['nc', '-z', '-w', '2', '10.10.2.10', '80'])).exitCode, 0, "web's internal side");
  assert.notEqual((await sh(attacker, ['curl', '-s', '-m', '3', 'http://203.0.113.10/'])).exitCode, 0, 'no egress');
  const otherCopy = vmOf(1, 'web').access!.host;
  assert.notEqual(
    (await sh(attacker, ['nc', '-z', '-w', '2', otherCopy, String(vmOf(1, 'web').access!.port)])).exitCode,
    0,
    "copy 2's management address is out of reach",
  );
});

type Alert = { id: string; kind: string; state: string; subject: string };

async function alertsOf(kind: string): Promise<Alert[]> {
  const { body } = await harness.api('GET', '/api/v1/alerts?limit=100');
  return ((body.items ?? []) as Alert[]).filter((alert) => alert.kind === kind);
}

test('a firewall rule deleted behind Glassdome’s back raises a drift alert, and the rule comes back', async () => {
  const web = vmOf(0, 'web');
  const rulesPath = `/nodes/pve01/qemu/${web.vmid}/firewall/rules`;
  const count = async () =>
    (JSON.parse(await onSimNode(harness.sim.info, ['pvesh', 'get', rulesPath, '--output-format', 'json'])) as unknown[])
      .length;
  const before = await count();
  assert.ok(before > 0);
  await onSimNode(harness.sim.info, ['pvesh', 'delete', `${rulesPath}/0`]);
  assert.equal(await count(), before - 1);
  await waitFor('a firewall-drift alert', async () => (await alertsOf('firewall-drift')).length > 0, {
    timeoutMs: 60_000,
  });
  await waitFor('the rule restored', async () => (await count()) === before, { timeoutMs: 60_000 });
  await waitFor(
    'the drift alert resolved',
    async () => (await alertsOf('firewall-drift')).every((alert) => alert.state === 'resolved'),
    { timeoutMs: 60_000 },
  );
});

test('a lab whose policy cannot hold (the node’s firewall stopped) fails, naming the pairs that disagreed', async () => {
  await onSimNode(harness.sim.info, ['pvesh', 'create', '/nodes/pve01/services/pve-firewall/stop']);
  try {
    const accepted = await harness.api('POST', '/api/v1/labs', {
      name: 'uncontained',
      networks: [
        { name: 'a', cidr: '10.20.1.0/24' },
        { name: 'b', cidr: '10.20.2.0/24' },
      ],
      vms: [
        { name: 'left', os: 'ubuntu-22.04', networks: ['a'] },
        { name: 'right', os: 'ubuntu-22.04', networks: ['a'] },
      ],
      rules: [],
    });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    const id = String(accepted.body.id);
    const failed = await waitFor(
      'the lab to fail',
      async () => {
        const { body } = await harness.api('GET', `/api/v1/labs/${id}`);
        return ['ready', 'failed', 'degraded'].includes(String(body.status)) ? body : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    assert.equal(failed.status, 'failed');
    assert.match(String(failed.error), /isolation check disagreed/);
    const isolation = failed.isolation as { agreed: boolean; pairs: Pair[] };
    assert.equal(isolation.agreed, false);
    const wrong = isolation.pairs.filter((pair) => pair.observed !== 'not probed' && pair.observed !== pair.expected);
    assert.ok(wrong.length > 0);
    assert.ok(wrong.every((pair) => pair.expected === 'blocked' && pair.observed === 'reach'));
  } finally {
    await onSimNode(harness.sim.info, ['pvesh', 'create', '/nodes/pve01/services/pve-firewall/start']);
  }
});
