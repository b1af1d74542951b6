/**
 * A lab as specified and contained (issues 13 and 14), end to end on the simulator: two networks, a
 * dual-homed web server with static addresses on both, a db with a grown disk, an attacker with a
 * trainee key, rules between them, no egress, two copies. The lab is `ready` only after the isolation
 * check agreed from inside the guests; then a trainee's view over SSH says the same. Then drift (a
 * rule deleted, a NIC's firewall flag taken off behind Glassdome's back) is alerted on and undone, a
 * spec that contradicts itself is a 400 naming the field, a lab whose policy cannot hold fails (or is
 * degraded under `onFailure: keep`) naming the pairs that disagreed, and a tear-down leaves no
 * firewall objects behind.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb } from '@glassdome/db';
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
type Pair = {
  copy: number;
  from: string;
  to: string;
  address: string | null;
  proto: string;
  port: number | null;
  expected: string;
  observed: string;
  method: string;
};
type Isolation = { checkedAt: string; agreed: boolean; pairs: Pair[] };

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
        provision: [{ file: { path: '/var/www/html/index.html', content: 'web\n', mode: '0644' } }],
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

let lab: { id: string; status: string; vms: LabVm[]; isolation: Isolation | null };

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
  lab = (await harness.waitForLab(String(id), 300_000)) as typeof lab;
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
  assert.ok(!Number.isNaN(Date.parse(lab.isolation!.checkedAt)), 'checkedAt is a time');
  // The pairs the issue names, in both copies, each a real packet that agreed.
  const pair = (copy: number, from: string, to: string, address: string, port: number) =>
    pairs.find(
      (candidate) =>
        candidate.copy === copy &&
        candidate.from === from &&
        candidate.to === to &&
        candidate.address === address &&
        candidate.port === port,
    );
  for (const copy of [0, 1]) {
    for (const [from, to, address, port, expected] of [
      ['attacker', 'web', '10.10.1.10', 80, 'reach'],
      ['web', 'db', '10.10.2.20', 5432, 'reach'],
      ['attacker', 'db', '10.10.2.20', 5432, 'blocked'],
      ['attacker', 'web', '10.10.2.10', 80, 'blocked'],
      ['attacker', 'outside', '203.0.113.10', 80, 'blocked'],
    ] as const) {
      const found = pair(copy, from, to, address, port);
      assert.ok(found, `copy ${copy} ${from} → ${to} ${address}:${port} was probed: ${JSON.stringify(pairs)}`);
      assert.deepEqual(
        [found.proto, found.method, found.expected, found.observed],
        ['tcp', 'packet', expected, expected],
      );
    }
    assert.ok(
      pairs.some((p) => p.copy === copy && p.to.startsWith('other copy:') && p.observed === 'blocked'),
      `copy ${copy}'s probes into the other copy were blocked`,
    );
  }
});

/** Events of the lab's event stream (SSE, replayed from the start) until `done` says enough or 30 s pass. */
async function streamEvents(
  labId: string,
  done: (events: { kind: string; data: Record<string, unknown> | null }[]) => boolean,
): Promise<{ kind: string; data: Record<string, unknown> | null }[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 30_000);
  const events: { kind: string; data: Record<string, unknown> | null }[] = [];
  try {
    const response = await fetch(`${harness.stack.apiUrl}/api/v1/labs/${labId}/events`, {
      headers: { Authorization: `Bearer ${harness.stack.adminKey}`, Accept: 'text/event-stream' },
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    assert.match(String(response.headers.get('content-type')), /text\/event-stream/);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        // Only `progress` frames carry events; `status` frames (the lab's status changed) and `end` do not.
        const lines = buffer.slice(0, end).split('\n');
        const data = lines.includes('event: progress') && lines.find((line) => line.startsWith('data: '));
        buffer = buffer.slice(end + 2);
        if (data) events.push(JSON.parse(data.slice('data: '.length)));
        end = buffer.indexOf('\n\n');
      }
      if (done(events)) break;
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

test('the event stream carries the isolation result: when, and every pair with its verdicts', async () => {
  const isolationOf = (events: { kind: string; data: Record<string, unknown> | null }[]) =>
    events.filter((event) => event.kind.startsWith('lab.isolation.'));
  const copiesIn = (events: { kind: string; data: Record<string, unknown> | null }[]) =>
    new Set(isolationOf(events).flatMap((event) => ((event.data?.pairs ?? []) as Pair[]).map((p) => p.copy)));
  const events = await streamEvents(lab.id, (seen) => copiesIn(seen).size >= 2);
  const checks = isolationOf(events);
  assert.ok(checks.length > 0, `an isolation event in ${events.map((event) => event.kind).join(' ')}`);
  for (const check of checks) {
    assert.equal(check.kind, 'lab.isolation.agreed');
    assert.ok(!Number.isNaN(Date.parse(String(check.data?.checkedAt))), JSON.stringify(check.data));
    const streamed = check.data?.pairs as Pair[];
    assert.ok(Array.isArray(streamed) && streamed.length > 0);
    for (const p of streamed) {
      assert.deepEqual(
        Object.keys(p)
          .filter((key) => ['from', 'to', 'port', 'expected', 'observed'].includes(key))
          .sort(),
        ['expected', 'from', 'observed', 'port', 'to'],
      );
    }
  }
  assert.deepEqual([...copiesIn(events)].sort(), [0, 1], 'both copies’ pairs are in the stream');
  const web80 = checks
    .flatMap((check) => check.data?.pairs as Pair[])
    .find((p) => p.from === 'attacker' && p.to === 'web' && p.port === 80 && p.address === '10.10.1.10');
  assert.deepEqual([web80?.expected, web80?.observed], ['reach', 'reach']);
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
  // Dropped, not refused: a closed port would fail nc too, and prove nothing about the firewall.
  const db5432 = await sh(attacker, ['nc', '-z', '-v', '-w', '2', '10.10.2.20', '5432']);
  assert.notEqual(db5432.exitCode, 0, 'db:5432 is not');
  assert.doesNotMatch(`${db5432.stdout}${db5432.stderr}`, /refused|succeeded|open/i);
  const webInside = await sh(attacker, ['nc', '-z', '-v', '-w', '2', '10.10.2.10', '80']);
  assert.notEqual(webInside.exitCode, 0, "web's internal side");
  assert.doesNotMatch(`${webInside.stdout}${webInside.stderr}`, /refused|succeeded|open/i);
  const outside = await sh(attacker, ['curl', '-sS', '-m', '3', 'http://203.0.113.10/']);
  assert.notEqual(outside.exitCode, 0, `no egress: ${outside.stdout}`);
  assert.doesNotMatch(outside.stderr, /refused/i);
  const otherCopy = vmOf(1, 'web').access!.host;
  assert.notEqual(
    (await sh(attacker, ['nc', '-z', '-w', '2', otherCopy, String(vmOf(1, 'web').access!.port)])).exitCode,
    0,
    "copy 2's management address is out of reach",
  );
});

/** Writes a file on a guest's disk through its agent, as root on the node would. */
async function writeOnGuest(vm: LabVm, path: string, content: string) {
  await onSimNode(harness.sim.info, [
    'pvesh',
    'create',
    `/nodes/pve01/qemu/${vm.vmid}/agent/file-write`,
    '--file',
    path,
    '--content',
    content,
  ]);
}

test('copy 2’s identical addresses are out of reach from copy 1: the same address leads into the own copy only', async () => {
  // Each copy's web serves a page naming its copy; each attacker asks 10.10.1.10, the address both webs hold.
  for (const copy of [0, 1]) {
    await writeOnGuest(vmOf(copy, 'web'), '/var/www/html/index.html', `served by copy ${copy + 1}\n`);
  }
  for (const copy of [0, 1]) {
    const attacker = asTrainee(vmOf(copy, 'attacker'));
    for (let attempt = 0; attempt < 5; attempt++) {
      const page = await sh(attacker, ['curl', '-sS', '-m', '3', 'http://10.10.1.10/']);
      assert.equal(page.exitCode, 0, page.stderr);
      assert.equal(page.stdout.trim(), `served by copy ${copy + 1}`, `copy ${copy + 1}'s attacker reached its own web`);
    }
  }
});

type Alert = { id: string; kind: string; state: string; subject: string };

async function alertsOf(kind: string): Promise<Alert[]> {
  const { body } = await harness.api('GET', '/api/v1/alerts?limit=100');
  return ((body.items ?? []) as Alert[]).filter((alert) => alert.kind === kind);
}

const pvesh = async (...argv: string[]) => onSimNode(harness.sim.info, ['pvesh', ...argv]);

/** A VM's rules as PVE lists them, without what PVE numbers or digests itself. */
async function rulesOf(vm: LabVm): Promise<Record<string, unknown>[]> {
  const rules = JSON.parse(
    await pvesh('get', `/nodes/pve01/qemu/${vm.vmid}/firewall/rules`, '--output-format', 'json'),
  ) as Record<string, unknown>[];
  return rules.sort((a, b) => Number(a.pos) - Number(b.pos)).map(({ pos: _pos, digest: _digest, ...rule }) => rule);
}

async function configOf(vm: LabVm): Promise<Record<string, string>> {
  return JSON.parse(await pvesh('get', `/nodes/pve01/qemu/${vm.vmid}/config`, '--output-format', 'json'));
}

/** The drift alerts there are before a change behind Glassdome's back. */
async function driftAlertIds(): Promise<Set<string>> {
  return new Set((await alertsOf('firewall-drift')).map((alert) => alert.id));
}

/**
 * The drift alert of one VM, new since `known`: raised (on a quiet machine the overseer may already
 * have restored and resolved it by the first look), then resolved once its remediation put things back.
 */
async function driftAlertCycle(vm: LabVm, known: Set<string>, restored: () => Promise<boolean>) {
  const subject = `vm/${vm.id}`;
  const raised = await waitFor(
    `a firewall-drift alert for ${vm.name}`,
    async () => (await alertsOf('firewall-drift')).find((alert) => alert.subject === subject && !known.has(alert.id)),
    { timeoutMs: 60_000 },
  );
  await waitFor(`${vm.name} restored`, restored, { timeoutMs: 60_000 });
  await waitFor(
    `the drift alert of ${vm.name} resolved`,
    async () => (await alertsOf('firewall-drift')).find((alert) => alert.id === raised.id)?.state === 'resolved',
    { timeoutMs: 60_000 },
  );
}

test('a firewall rule deleted behind Glassdome’s back raises a drift alert, and the very rule comes back', async () => {
  const web = vmOf(0, 'web');
  const before = await rulesOf(web);
  assert.ok(before.length > 1);
  // The rule that lets the dmz reach web:80.
  const index = before.findIndex((rule) => rule.type === 'in' && rule.dport === '80' && rule.action === 'ACCEPT');
  assert.ok(index >= 0, JSON.stringify(before));
  const known = await driftAlertIds();
  await pvesh('delete', `/nodes/pve01/qemu/${web.vmid}/firewall/rules/${index}`);
  // The deletion is seen by the alert it raises (the overseer may put the rule back within a second).
  await driftAlertCycle(web, known, async () => JSON.stringify(await rulesOf(web)) === JSON.stringify(before));
  // And the trainee's HTTP works again once pve-firewall compiled it.
  await waitFor(
    'web:80 from the attacker again',
    async () => (await sh(asTrainee(vmOf(0, 'attacker')), ['nc', '-z', '-w', '2', '10.10.1.10', '80'])).exitCode === 0,
    { timeoutMs: 30_000 },
  );
});

test('a NIC’s firewall flag taken off behind Glassdome’s back is drift too, and the flag comes back', async () => {
  const db = vmOf(0, 'db');
  const before = await configOf(db);
  assert.match(before.net0!, /firewall=1/);
  const known = await driftAlertIds();
  await pvesh('set', `/nodes/pve01/qemu/${db.vmid}/config`, '--net0', before.net0!.replace(',firewall=1', ''));
  await driftAlertCycle(db, known, async () => (await configOf(db)).net0 === before.net0);
});

test('testing mode’s wider egress is not drift: scans leave it alone until it ends, then the lab’s own policy is back', async () => {
  const db = createDb(harness.databaseUrl);
  try {
    const attacker = asTrainee(vmOf(0, 'attacker'));
    const outside = async () => (await sh(attacker, ['curl', '-sS', '-m', '3', 'http://203.0.113.10/'])).exitCode === 0;
    const scansSince = async (since: Date) =>
      (
        await db
          .selectFrom('events')
          .select('id')
          .where('kind', '=', 'overseer.scan.completed')
          .where('at', '>', since)
          .execute()
      ).length;
    const driftAlertsBefore = (await alertsOf('firewall-drift')).length;
    const started = await harness.api('POST', `/api/v1/labs/${lab.id}/testing`, {
      egress: ['203.0.113.10:80'],
      duration: '30m',
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    await waitFor(
      'testing mode on',
      async () => (await harness.api('GET', `/api/v1/labs/${lab.id}/testing`)).body.testing,
      {
        timeoutMs: 120_000,
      },
    );
    await waitFor('egress to the outside', outside, { timeoutMs: 60_000, intervalMs: 1_000 });
    const on = new Date();
    await waitFor('three overseer scans', async () => (await scansSince(on)) >= 3, { timeoutMs: 60_000 });
    assert.equal((await alertsOf('firewall-drift')).length, driftAlertsBefore, 'no drift alert for testing mode');
    assert.ok(await outside(), 'egress is still open: nothing restored the lab’s own firewall');
    const stop = await harness.api('DELETE', `/api/v1/labs/${lab.id}/testing`);
    assert.equal(stop.status, 202, JSON.stringify(stop.body));
    await waitFor(
      'testing mode off',
      async () => (await harness.api('GET', `/api/v1/labs/${lab.id}/testing`)).body.testing === null,
      { timeoutMs: 120_000 },
    );
    await waitFor('egress closed again', async () => !(await outside()), { timeoutMs: 60_000, intervalMs: 1_000 });
    const off = new Date();
    await waitFor('three more scans', async () => (await scansSince(off)) >= 3, { timeoutMs: 60_000 });
    assert.equal((await alertsOf('firewall-drift')).length, driftAlertsBefore, 'nor for the policy put back');
  } finally {
    await db.destroy();
  }
});

test('a spec that contradicts itself is a 400 naming the field', async () => {
  const cases: [unknown, (string | number)[]][] = [
    [
      { ...spec(harness.userKey.publicKey), rules: [{ from: 'ghost', to: 'web', ports: ['tcp/80'] }] },
      ['rules', 0, 'from'],
    ],
    [
      { ...spec(harness.userKey.publicKey), rules: [{ from: 'dmz', to: 'web', ports: ['tcp/90-80'] }] },
      ['rules', 0, 'ports', 0],
    ],
    [
      {
        ...spec(harness.userKey.publicKey),
        networks: [
          { name: 'dmz', cidr: '10.10.1.0/24', egress: ['10.0.0.5:443'] },
          { name: 'internal', cidr: '10.10.2.0/24' },
        ],
      },
      ['networks', 0, 'egress', 0],
    ],
  ];
  for (const [body, path] of cases) {
    const answer = await harness.api('POST', '/api/v1/labs', body);
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    const details = (answer.body.error as { details?: { path: string }[] }).details ?? [];
    assert.ok(
      details.some((issue) => issue.path === path.join('.')),
      `${path.join('.')} in ${JSON.stringify(details)}`,
    );
  }
});

function uncontained(name: string, onFailure: 'fail' | 'keep') {
  return {
    name,
    onFailure,
    networks: [{ name: 'a', cidr: '10.20.1.0/24', egress: 'deny' }],
    vms: [
      { name: 'left', os: 'ubuntu-22.04', networks: ['a'] },
      { name: 'right', os: 'ubuntu-22.04', networks: ['a'] },
    ],
    rules: [],
  };
}

test('a lab whose policy cannot hold (the node’s firewall stopped) fails naming the pairs, or is degraded under keep', async () => {
  await pvesh('create', '/nodes/pve01/services/pve-firewall/stop');
  try {
    const ids: Record<string, string> = {};
    for (const onFailure of ['fail', 'keep'] as const) {
      const accepted = await harness.api('POST', '/api/v1/labs', uncontained(`uncontained-${onFailure}`, onFailure));
      assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
      ids[onFailure] = String(accepted.body.id);
    }
    const [failed, kept] = await Promise.all([
      harness.waitForLab(ids.fail!, 240_000),
      harness.waitForLab(ids.keep!, 240_000),
    ]);
    assert.equal(failed.status, 'failed', JSON.stringify(failed.error));
    assert.equal(kept.status, 'degraded', JSON.stringify(kept.error));
    for (const body of [failed, kept]) {
      const isolation = body.isolation as Isolation;
      assert.equal(isolation.agreed, false);
      const wrong = isolation.pairs.filter((pair) => pair.observed !== 'not probed' && pair.observed !== pair.expected);
      assert.ok(wrong.length > 0);
      // Nothing is filtered: what the policy blocks got through (left and right's management SSH, the outside).
      assert.ok(wrong.every((pair) => pair.expected === 'blocked' && pair.observed === 'reach'));
      assert.ok(wrong.some((pair) => pair.to === 'outside'));
      assert.ok(wrong.some((pair) => pair.from === 'left' && pair.to === 'right'));
    }
    // The reason names the pairs that disagreed.
    for (const body of [failed, kept]) {
      const reason = [
        body.error,
        ...((body.steps as { error?: string | null }[]) ?? []).map((step) => step.error),
      ].join(' ');
      assert.match(reason, /isolation check disagreed/);
      assert.match(reason, /copy 0 (left|right) → (right|left) \S+ tcp\/\d+: expected blocked, observed reach/);
      assert.match(reason, /copy 0 (left|right) → outside 203\.0\.113\.10 tcp\/80: expected blocked, observed reach/);
    }
  } finally {
    await pvesh('create', '/nodes/pve01/services/pve-firewall/start');
  }
});

test('tearing the lab down leaves none of its firewall objects behind', async () => {
  const vmids = lab.vms.map((vm) => String(vm.vmid));
  const held = async () => {
    const state = (await harness.sim.admin('GET', '/state')) as { firewall?: { vms?: Record<string, unknown> } };
    return vmids.filter((vmid) => state.firewall?.vms?.[vmid] !== undefined);
  };
  assert.deepEqual(await held(), vmids, 'each VM had its firewall');
  const deleted = await harness.api('DELETE', `/api/v1/labs/${lab.id}`);
  assert.ok([200, 202, 204].includes(deleted.status), JSON.stringify(deleted.body));
  await waitFor(
    'the lab destroyed',
    async () => (await harness.api('GET', `/api/v1/labs/${lab.id}`)).body.status === 'destroyed',
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  assert.deepEqual(await held(), []);
  const state = (await harness.sim.admin('GET', '/state')) as {
    firewall?: { cluster?: { groups?: Record<string, unknown>; ipsets?: Record<string, unknown> } };
  };
  assert.deepEqual(Object.keys(state.firewall?.cluster?.groups ?? {}), [], 'no security group left');
  assert.deepEqual(Object.keys(state.firewall?.cluster?.ipsets ?? {}), [], 'no cluster IPSet left');
});
