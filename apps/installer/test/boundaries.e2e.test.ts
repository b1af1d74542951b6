/**
 * Issue 15's "done when", against a whole stack (simulator, API, installers, gateway, overseer):
 * projects keep each other's labs and VMs out of sight, a trainee key sees one copy, Bull Board
 * changes nothing, a forbidden grant put straight into Redis never reaches Proxmox, a spec naming an
 * unregistered VMID is a 400, a deep YAML body is refused while /healthz answers, no key survives in
 * a pg_dump, a viewer never sees provisioning text, and a permission repair keeps VM.Audit so no
 * false template-missing alert opens.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { createProxmox } from '@glassdome/proxmox';
import { Producer, QUEUES } from '@glassdome/queue';
import { addOsTemplates, waitFor } from '@glassdome/testkit';
import { type Harness, startHarness } from './harness';

let harness: Harness;
before(async () => {
  harness = await startHarness({
    overseer: true,
    env: { OVERSEER_SCAN_SECONDS: '1', OVERSEER_SSH_PROBE: '0', OVERSEER_REMEDIATIONS: 'none' },
  });
  // Templates the deploy token may read (VM.Audit through /vms) but not clone: the first clone of one
  // is a 403 that permission repair answers.
  await addOsTemplates(harness.sim.info, { grantClone: false });
});
after(() => harness?.stop());

interface Answer {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: each test asserts the shape it reads
  body: any;
}

async function as(
  key: string | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${harness.stack.apiUrl}${path}`, {
    method,
    headers: {
      ...(key ? { Authorization: `Bearer ${key}` } : {}),
      ...(body === undefined
        ? {}
        : { 'Content-Type': typeof body === 'string' ? 'application/yaml' : 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, text, body: parsed } as Answer;
}

const admin = () => harness.stack.adminKey;

async function newKey(role: string, project: string): Promise<string> {
  const created = await as(admin(), 'POST', '/api/v1/keys', { name: `${role}-${project}`, role, project });
  assert.equal(created.status, 201, created.text);
  return created.body.key;
}

const LAB = [
  'name: class',
  'copies: 2',
  'networks: [{name: lan, cidr: 10.10.0.0/24}]',
  'vms: [{name: target, os: ubuntu-22.04, networks: [lan]}]',
].join('\n');

test("an operator of project B gets 404 for project A's lab and VM and sees none of them; a trainee key sees one copy", async () => {
  const operatorA = await newKey('operator', 'red');
  const operatorB = await newKey('operator', 'blue');
  const lab = await as(operatorA, 'POST', '/api/v1/labs', LAB);
  assert.equal(lab.status, 202, lab.text);
  const labId = lab.body.id as string;
  const vm = await as(operatorA, 'POST', '/api/v1/vms', { name: 'red-box', os: 'ubuntu-22.04' });
  assert.equal(vm.status, 202, vm.text);
  // A 202 means committed; its job reaches BullMQ a moment later (the next test counts the queues).
  await waitFor(
    'the deploy job in BullMQ',
    async () => (await as(operatorA, 'GET', `/api/v1/jobs/vm-deploy.${vm.body.id}`)).status === 200,
    { timeoutMs: 10_000, intervalMs: 20 },
  );
  for (const [method, path] of [
    ['GET', `/api/v1/labs/${labId}`],
    ['GET', `/api/v1/labs/${labId}/events`],
    ['DELETE', `/api/v1/labs/${labId}`],
    ['POST', `/api/v1/labs/${labId}/cancel`],
    ['POST', `/api/v1/labs/${labId}/retry`],
    ['GET', `/api/v1/vms/${vm.body.id}`],
    ['DELETE', `/api/v1/vms/${vm.body.id}`],
  ] as const) {
    const answer = await as(operatorB, method, path);
    assert.equal(answer.status, 404, `${method} ${path}`);
  }
  assert.deepEqual((await as(operatorB, 'GET', '/api/v1/labs')).body.items, []);
  assert.deepEqual((await as(operatorB, 'GET', '/api/v1/vms')).body.items, []);

  const trainee = await as(operatorA, 'POST', `/api/v1/labs/${labId}/trainee-keys`, { copy: 1 });
  assert.equal(trainee.status, 201, trainee.text);
  const seen = await as(trainee.body.key, 'GET', `/api/v1/labs/${labId}`);
  assert.equal(seen.status, 200);
  assert.deepEqual(
    seen.body.vms.map((v: { copy: number }) => v.copy),
    [1],
  );
  const other = (await as(operatorA, 'GET', `/api/v1/labs/${labId}`)).body.vms.find(
    (v: { copy: number }) => v.copy === 0,
  );
  assert.equal((await as(trainee.body.key, 'GET', `/api/v1/vms/${other.id}`)).status, 404);
  assert.equal((await as(trainee.body.key, 'GET', `/api/v1/vms/${vm.body.id}`)).status, 404);
  assert.equal((await as(operatorA, 'DELETE', `/api/v1/labs/${labId}`)).status, 202);
});

test('POST /admin/queues/api/queues/<any>/add is refused for every role, and nothing is enqueued', async () => {
  const keys = [admin(), await newKey('operator', 'board'), await newKey('viewer', 'board'), null];
  const producer = await Producer.open(harness.redis.url, harness.redis.prefix);
  const counts = () => Promise.all(Object.values(QUEUES).map((name) => producer.queues[name].count()));
  try {
    const before = await counts();
    for (const queue of Object.values(QUEUES)) {
      for (const key of keys) {
        const answer = await as(key, 'POST', `/admin/queues/api/queues/${queue}/add`, {
          name: 'permission.grant',
          data: { platformId: 'default', principal: 'glassdome@pve', path: '/', privileges: ['Permissions.Modify'] },
        });
        assert.ok(
          [401, 403, 405].includes(answer.status),
          `${queue} with ${key ? 'a key' : 'no key'}: ${answer.status}`,
        );
      }
    }
    const afterwards = await counts();
    assert.ok(
      afterwards.every((count, index) => count <= before[index]!),
      'no job was added',
    );
  } finally {
    await producer.close();
  }
});

test('a permission.grant job with a forbidden privilege or path, put straight into Redis, fails without touching Proxmox', async () => {
  // The ACL on the paths the forged jobs name, and the roles: other work of this file may meanwhile
  // grant elsewhere (a lab network's SDN zone), which is not this test's business.
  const forgedPaths = new Set(['/', '/vms/100', '/vms/9999']);
  const state = async () => {
    const dump = (await harness.sim.admin('GET', '/state')) as {
      acl: { path: string }[];
      roles: Record<string, unknown>;
    };
    const acl = dump.acl.filter((entry) => forgedPaths.has(entry.path));
    return JSON.stringify({ acl, roles: Object.keys(dump.roles).sort() });
  };
  const aclBefore = await state();
  // The producer's queue as it is (its `enqueue` would validate; `add` writes whatever it is given).
  const producer = await Producer.open(harness.redis.url, harness.redis.prefix);
  const queue = producer.queues.permission;
  try {
    const forged = [
      { principal: 'glassdome@pve!deploy', path: '/', privileges: ['Permissions.Modify', 'Sys.Console'] },
      { principal: 'glassdome@pve!deploy', path: '/', privileges: ['VM.Allocate'] },
      { principal: 'glassdome@pve!deploy', path: '/vms/100', privileges: ['Sys.Modify'] },
      // A repair (it names a VM) of a VMID Glassdome never registered: refused by the gateway itself.
      {
        principal: harness.sim.info.tokenId,
        path: '/vms/9999',
        privileges: ['VM.Clone'],
        vmId: '00000000-0000-4000-8000-000000000001',
      },
    ];
    const jobs = await Promise.all(
      forged.map((grant) =>
        queue.add('permission.grant', { platformId: 'default', reason: 'forged', ...grant }, { attempts: 3 }),
      ),
    );
    for (const job of jobs) {
      await waitFor(`forged job ${job.id} to fail`, async () => (await job.getState()) === 'failed', {
        timeoutMs: 30_000,
      });
      const settled = await queue.getJob(job.id!);
      assert.equal(settled!.attemptsMade, 1, 'failed for good at once, not retried');
      assert.match(settled!.failedReason, /invalid payload for permission.grant|grant refused/);
    }
  } finally {
    await producer.close();
  }
  assert.equal(await state(), aclBefore, 'no ACL entry and no role was added');
});

test('a spec naming a VMID Glassdome did not register is a 400, not a grant', async () => {
  const operator = await newKey('operator', 'vmids');
  const spec = (template: number) => ({
    name: `tpl-${template}`,
    networks: [{ name: 'lan', cidr: '10.10.0.0/24' }],
    vms: [{ name: 'box', os: 'ubuntu-22.04', template, networks: ['lan'] }],
  });
  // 9002 exists on the cluster as a template, but Glassdome never registered it.
  for (const template of [9002, 100, 4242]) {
    const answer = await as(operator, 'POST', '/api/v1/labs', spec(template));
    assert.equal(answer.status, 400, answer.text);
    assert.equal(answer.body.error.details[0].path, 'vms.0.template');
  }
  const vm = await as(operator, 'POST', '/api/v1/vms', { name: 'sneaky', os: 'ubuntu-22.04', template: 9002 });
  assert.equal(vm.status, 400);
  const events = await as(admin(), 'GET', '/api/v1/overseer/report');
  assert.equal(events.status, 200);
  const acl = (await harness.sim.admin('GET', '/state')) as { acl: { path: string }[] };
  assert.ok(!acl.acl.some((entry) => entry.path === '/vms/9002'), 'nothing was granted on 9002');
});

test('a 1 MiB nested YAML is refused while /healthz keeps answering', async () => {
  const order: string[] = [];
  const deep = as(admin(), 'POST', '/api/v1/labs', '['.repeat(1024 * 1024 - 64)).then((answer) => {
    order.push('refused');
    return answer;
  });
  const health = Array.from({ length: 5 }, () =>
    fetch(`${harness.stack.apiUrl}/healthz`).then((response) => {
      order.push('healthz');
      return response.status;
    }),
  );
  const answer = await deep;
  assert.equal(answer.status, 400);
  assert.match(answer.text, /nests deeper than 64 levels/);
  assert.deepEqual(await Promise.all(health), [200, 200, 200, 200, 200]);
  // One more /healthz sent after the refusal answers too: the API's thread was never held.
  assert.equal((await fetch(`${harness.stack.apiUrl}/healthz`)).status, 200);
  assert.equal(order.length, 6);
});

test('pg_dump of the database after POST /keys with an Idempotency-Key contains no key', async () => {
  const headers = { 'Idempotency-Key': 'e2e-key-once' };
  const body = { name: 'dumped', role: 'viewer', project: 'dump' };
  const first = await as(admin(), 'POST', '/api/v1/keys', body, headers);
  const replay = await as(admin(), 'POST', '/api/v1/keys', body, headers);
  assert.equal(first.status, 201);
  assert.equal(replay.body.id, first.body.id);
  assert.equal(replay.body.key, undefined);
  const dump = execFileSync('pg_dump', [harness.databaseUrl], { maxBuffer: 256 * 1024 * 1024 }).toString();
  assert.ok(dump.includes('e2e-key-once'));
  assert.ok(!dump.includes(first.body.key), 'the key is not in the dump');
  assert.ok(!dump.includes(harness.stack.adminKey), 'nor the admin key');
});

test("a viewer never sees a provisioning command's text or output; its creator can read the full log", async () => {
  const operator = await newKey('operator', 'secrets');
  const viewer = await newKey('viewer', 'secrets');
  const command = "echo 'hunter2-e2e' | chpasswd";
  const vm = await as(operator, 'POST', '/api/v1/vms', {
    name: 'pw-e2e',
    os: 'ubuntu-22.04',
    provision: [{ run: command }],
  });
  assert.equal(vm.status, 202, vm.text);
  const id = vm.body.id as string;
  const failed = await waitFor(
    'the provisioning command to fail',
    async () => {
      const seen = await as(viewer, 'GET', `/api/v1/vms/${id}`);
      return seen.body.status === 'failed' && seen;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  for (const answer of [
    failed,
    await as(viewer, 'GET', `/api/v1/jobs/vm-deploy.${id}`),
    await as(viewer, 'GET', '/api/v1/vms'),
  ]) {
    assert.equal(answer.status, 200, answer.text);
    assert.ok(!answer.text.includes('hunter2'), answer.text);
    assert.ok(!answer.text.includes('chpasswd'), answer.text);
  }
  assert.match(failed.body.error ?? JSON.stringify(failed.body.steps), /provisioning item 1 of 1 exited 127/);
  assert.equal((await as(viewer, 'GET', `/api/v1/vms/${id}/logs`)).status, 403);
  const logs = await as(operator, 'GET', `/api/v1/vms/${id}/logs`);
  assert.equal(logs.status, 200);
  assert.ok(logs.text.includes('chpasswd: not found'), 'the creator reads the guest output');
  assert.ok(logs.text.includes('hunter2-e2e'), 'and the command');
});

test('after a permission repair the token still holds VM.Audit on the template, and no false template-missing alert opens', async () => {
  const operator = await newKey('operator', 'repair');
  // Register the cluster's Ubuntu 24.04 template (adopted: it is a template and says it is 24.04).
  const template = await as(admin(), 'POST', '/api/v1/templates', {
    os: 'ubuntu-24.04',
    vmid: 9001,
    project: 'repair',
  });
  assert.equal(template.status, 202, template.text);
  await waitFor('the template adopted', async () => {
    const list = await as(operator, 'GET', '/api/v1/templates');
    return list.body.items.some(
      (item: { id: string; status: string }) => item.id === template.body.id && item.status === 'ready',
    );
  });
  const root = createProxmox({
    baseUrl: harness.sim.info.apiUrl,
    node: harness.sim.info.node,
    auth: { username: 'root@pam', password: harness.sim.info.rootPassword },
    ...(harness.sim.info.tlsFingerprint ? { tls: { fingerprint: harness.sim.info.tlsFingerprint } } : {}),
  });
  try {
    const held = async () =>
      (await root.access.permissions({ path: '/vms/9001', userid: harness.sim.info.tokenId }))['/vms/9001'] ?? [];
    assert.ok((await held()).includes('VM.Audit'));
    assert.ok(!(await held()).includes('VM.Clone'), 'the token starts without clone rights');

    const vms = await Promise.all(
      ['repair-1', 'repair-2'].map((name) => as(operator, 'POST', '/api/v1/vms', { name, os: 'ubuntu-24.04' })),
    );
    for (const vm of vms) {
      assert.equal(vm.status, 202, vm.text);
      await harness.waitForVm(vm.body.id, ['ready'], 180_000);
    }
    const after = await held();
    assert.ok(after.includes('VM.Clone'), 'the repair granted VM.Clone');
    assert.ok(after.includes('VM.Audit'), 'and kept VM.Audit');
    const roles = (await root.access.acl()).filter((entry) => entry.path === '/vms/9001');
    assert.equal(
      roles.filter((entry) => entry.type === 'token').length,
      1,
      'one grant for the token, however many clones',
    );

    const grantedAt = Date.now();
    await waitFor(
      'an overseer scan that began after the grant',
      async () => {
        const status = await as(admin(), 'GET', '/api/v1/system/status');
        const scan = status.body.overseer.lastScan;
        return scan && Date.parse(scan.startedAt) > grantedAt;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const alerts = await as(admin(), 'GET', '/api/v1/alerts?state=open');
    assert.ok(
      !alerts.body.items.some((alert: { kind: string }) => alert.kind === 'template-missing'),
      JSON.stringify(alerts.body.items),
    );
  } finally {
    root.close();
  }
});
