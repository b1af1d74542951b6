import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appendEvent } from '@glassdome/db';
import { waitFor } from '@glassdome/testkit';
import { ADMIN_KEY, allJobs, relayedJob, startTestApi, type TestApi } from './harness';

let api: TestApi;
before(async () => {
  api = await startTestApi('projects');
});
after(() => api.close());

/** Reads an event stream until `until` holds and returns the progress messages seen. */
async function streamKinds(path: string, key: string, until: (kinds: string[]) => boolean) {
  const controller = new AbortController();
  const kinds: string[] = [];
  const response = await fetch(`${api.url}${path}`, {
    headers: { authorization: `Bearer ${key}` },
    signal: controller.signal,
  });
  if (response.status !== 200) return { status: response.status, kinds };
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk, { stream: true });
      for (const match of buffer.matchAll(/event: progress\ndata: (.*)\n/g)) kinds.push(JSON.parse(match[1]!).message);
      buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
    }
  })().catch(() => {});
  await waitFor('the stream to show what it should', () => until(kinds), { timeoutMs: 10_000 });
  controller.abort();
  await reading;
  return { status: 200, kinds };
}

test("an operator of project B gets 404 for project A's lab and VM everywhere, and sees none of them", async () => {
  const operatorA = await api.keyWithRole('operator', 'team-a');
  const operatorB = await api.keyWithRole('operator', 'team-b');
  const viewerB = await api.keyWithRole('viewer', 'team-b');
  const lab = await api.request('POST', '/api/v1/labs', { key: operatorA, body: { template: 'web-pentest-101' } });
  assert.equal(lab.status, 202, lab.text);
  assert.equal(lab.body.project, 'team-a');
  const vm = await api.request('POST', '/api/v1/vms', { key: operatorA, body: { name: 'a-web', os: 'debian-12' } });
  assert.equal(vm.status, 202, vm.text);
  const labId = lab.body.id as string;
  const vmId = vm.body.id as string;
  // The deploy's job reaches BullMQ just after the 202: B's 404 below must be about scope, not absence.
  await relayedJob(api, `vm-deploy.${vmId}`);
  const labVm = (await api.request('GET', `/api/v1/labs/${labId}`, { key: operatorA })).body.vms[0].id as string;

  for (const key of [operatorB, viewerB]) {
    for (const path of [
      `/api/v1/labs/${labId}`,
      `/api/v1/labs/${labId}/events`,
      `/api/v1/labs/${labId}/topology`,
      `/api/v1/vms/${vmId}`,
      `/api/v1/vms/${labVm}`,
      `/api/v1/vms/${vmId}/logs`,
      `/api/v1/jobs/vm-deploy.${vmId}`,
    ]) {
      const answer = await api.request('GET', path, { key });
      assert.equal(answer.status, 404, `GET ${path}`);
      assert.equal(answer.body.error.code, 'not_found');
    }
    assert.deepEqual((await api.request('GET', '/api/v1/labs', { key })).body.items, []);
    assert.deepEqual((await api.request('GET', '/api/v1/vms', { key })).body.items, []);
    assert.deepEqual((await api.request('GET', '/api/v1/inventory', { key })).body.vms, []);
  }
  for (const [method, path] of [
    ['DELETE', `/api/v1/labs/${labId}`],
    ['POST', `/api/v1/labs/${labId}/cancel`],
    ['POST', `/api/v1/labs/${labId}/retry`],
    ['POST', `/api/v1/labs/${labId}/trainee-keys`],
    ['DELETE', `/api/v1/vms/${vmId}`],
  ] as const) {
    const answer = await api.request(method, path, {
      key: operatorB,
      body: method === 'POST' ? { copy: 0 } : undefined,
    });
    assert.equal(answer.status, 404, `${method} ${path} is 404, never 403`);
  }
  // Nothing was done to A's resources.
  assert.equal((await api.request('GET', `/api/v1/labs/${labId}`, { key: operatorA })).body.status, 'queued');
  assert.equal((await api.request('GET', `/api/v1/vms/${vmId}`, { key: operatorA })).body.status, 'queued');
  assert.ok(!(await allJobs(api.producer)).some((job) => job.name === 'lab.destroy' || job.name === 'vm.destroy'));

  // The owner's project sees them; an admin sees every project.
  assert.equal((await api.request('GET', '/api/v1/labs', { key: operatorA })).body.items.length, 1);
  const adminLabs = await api.request('GET', '/api/v1/labs');
  assert.ok(adminLabs.body.items.some((item: { id: string }) => item.id === labId));
  assert.equal((await api.request('GET', `/api/v1/vms/${vmId}`)).status, 200);
});

test("an event stream shows nothing of another project's lab; the same lab name may exist in two projects", async () => {
  const operatorA = await api.keyWithRole('operator', 'stream-a');
  const operatorB = await api.keyWithRole('operator', 'stream-b');
  const a = await api.request('POST', '/api/v1/labs', {
    key: operatorA,
    body: { template: 'web-pentest-101', name: 'same' },
  });
  const b = await api.request('POST', '/api/v1/labs', {
    key: operatorB,
    body: { template: 'web-pentest-101', name: 'same' },
  });
  assert.equal(a.status, 202);
  assert.equal(b.status, 202, 'lab names are unique per project only');
  await appendEvent(api.db, { labId: a.body.id, kind: 'vm.step.started', message: 'secret-a step' });
  await appendEvent(api.db, { labId: b.body.id, kind: 'vm.step.started', message: 'b step' });
  const mine = await streamKinds(`/api/v1/labs/${b.body.id}/events`, operatorB, (kinds) => kinds.includes('b step'));
  assert.ok(!mine.kinds.includes('secret-a step'));
  assert.equal((await streamKinds(`/api/v1/labs/${a.body.id}/events`, operatorB, () => true)).status, 404);
});

test('a trainee key reads one copy: its VMs, addresses and SSH details, nothing else', async () => {
  const operator = await api.keyWithRole('operator', 'class-1');
  const lab = await api.request('POST', '/api/v1/labs', {
    key: operator,
    raw: [
      'name: class-lab',
      'copies: 3',
      'networks: [{name: lan, cidr: 10.10.0.0/24}]',
      'vms:',
      '  - {name: target, os: ubuntu-22.04, networks: [lan]}',
      '  - {name: kali, os: kali, networks: [lan]}',
    ].join('\n'),
    contentType: 'application/yaml',
  });
  assert.equal(lab.status, 202, lab.text);
  const labId = lab.body.id as string;
  const viewer = await api.keyWithRole('viewer', 'class-1');
  assert.equal(
    (await api.request('POST', `/api/v1/labs/${labId}/trainee-keys`, { key: viewer, body: { copy: 1 } })).status,
    403,
  );
  assert.equal(
    (await api.request('POST', `/api/v1/labs/${labId}/trainee-keys`, { key: operator, body: { copy: 3 } })).status,
    400,
  );
  const created = await api.request('POST', `/api/v1/labs/${labId}/trainee-keys`, { key: operator, body: { copy: 1 } });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.role, 'trainee');
  const trainee = created.body.key as string;

  const all = (await api.request('GET', `/api/v1/labs/${labId}`, { key: operator })).body.vms as {
    id: string;
    copy: number;
    name: string;
  }[];
  const mine = all.filter((vm) => vm.copy === 1).sort((a, b) => b.name.localeCompare(a.name));
  const theirs = all.filter((vm) => vm.copy !== 1);
  await api.db.updateTable('vms').set({ ip: '127.64.0.9' }).where('id', '=', mine[0]!.id).execute();

  const seen = await api.request('GET', `/api/v1/labs/${labId}`, { key: trainee });
  assert.equal(seen.status, 200);
  assert.deepEqual(seen.body.vms.map((vm: { copy: number }) => vm.copy).sort(), [1, 1]);
  assert.deepEqual(seen.body.steps, [], 'lab-wide tasks name every copy');
  assert.equal(seen.body.graph, undefined);
  const myVm = await api.request('GET', `/api/v1/vms/${mine[0]!.id}`, { key: trainee });
  assert.equal(myVm.status, 200);
  assert.deepEqual(myVm.body.access, { host: '127.64.0.9', port: 22, user: 'ubuntu' });
  for (const vm of theirs)
    assert.equal((await api.request('GET', `/api/v1/vms/${vm.id}`, { key: trainee })).status, 404);
  assert.deepEqual(
    (await api.request('GET', '/api/v1/labs', { key: trainee })).body.items.map((item: { id: string }) => item.id),
    [labId],
  );
  for (const path of [
    '/api/v1/vms',
    '/api/v1/templates',
    '/api/v1/alerts',
    '/api/v1/inventory',
    '/api/v1/system/status',
  ]) {
    assert.equal((await api.request('GET', path, { key: trainee })).status, 403, path);
  }
  for (const [method, path] of [
    ['DELETE', `/api/v1/labs/${labId}`],
    ['POST', `/api/v1/labs/${labId}/cancel`],
    ['POST', '/api/v1/vms'],
  ] as const) {
    assert.equal((await api.request(method, path, { key: trainee, body: {} })).status, 403, `${method} ${path}`);
  }

  await appendEvent(api.db, { labId, vmId: mine[0]!.id, kind: 'vm.step.started', message: 'my clone started' });
  await appendEvent(api.db, { labId, vmId: theirs[0]!.id, kind: 'vm.step.started', message: 'their clone started' });
  await appendEvent(api.db, { labId, kind: 'lab.task', message: 'lab-wide task' });
  const stream = await streamKinds(`/api/v1/labs/${labId}/events`, trainee, (kinds) =>
    kinds.includes('my clone started'),
  );
  assert.deepEqual(stream.kinds, ['my clone started']);

  // Revoking the trainee key (an operator of the project may) ends its access.
  const listed = await api.request('GET', `/api/v1/labs/${labId}/trainee-keys`, { key: operator });
  assert.equal(listed.body.items.length, 1);
  assert.ok(!listed.text.includes(trainee));
  assert.equal(
    (await api.request('DELETE', `/api/v1/labs/${labId}/trainee-keys/${created.body.id}`, { key: operator })).status,
    200,
  );
  assert.equal((await api.request('GET', `/api/v1/labs/${labId}`, { key: trainee })).status, 401);
});

test('keys are created in a project (made on first use); quotas per project are set by admins and enforced', async () => {
  const created = await api.request('POST', '/api/v1/keys', {
    body: { name: 'quota op', role: 'operator', project: 'tight' },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.project, 'tight');
  const operator = created.body.key as string;
  const projects = await api.request('GET', '/api/v1/projects');
  assert.ok(projects.body.items.some((project: { name: string }) => project.name === 'tight'));

  assert.equal(
    (await api.request('PUT', '/api/v1/projects/tight/quotas', { key: operator, body: { maxVms: 1 } })).status,
    403,
  );
  const set = await api.request('PUT', '/api/v1/projects/tight/quotas', {
    body: { maxVms: 2, maxLabTtlSeconds: 86_400, maxVcpus: null },
  });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.body.quotas.maxVms, 2);
  assert.equal(set.body.overrides.maxVcpus, null);

  assert.equal(
    (await api.request('POST', '/api/v1/vms', { key: operator, body: { name: 'q-1', os: 'debian-12' } })).status,
    202,
  );
  const lab = await api.request('POST', '/api/v1/labs', {
    key: operator,
    body: { template: 'web-pentest-101', name: 'q-lab' },
  });
  assert.equal(lab.status, 409, lab.text);
  assert.equal(lab.body.error.code, 'quota_exceeded');
  assert.match(lab.body.error.message, /maxVms/);
  assert.equal(lab.body.error.details.quota, 'maxVms');
  const longLab = await api.request('POST', '/api/v1/labs', {
    key: operator,
    raw: 'name: long\nttl: 2d\nnetworks: [{name: lan, cidr: 10.1.0.0/24}]\nvms: [{name: one, os: debian-12, networks: [lan]}]',
    contentType: 'application/yaml',
  });
  // Refused for its TTL, whichever check sees it first (the spec's validation or the quota).
  assert.ok([400, 422].includes(longLab.status), longLab.text);
  assert.match(JSON.stringify(longLab.body.error), /ttl|maxLabTtlSeconds/i);
  assert.equal(
    (await api.request('POST', '/api/v1/vms', { key: operator, body: { name: 'q-2', os: 'debian-12' } })).status,
    202,
  );
  const third = await api.request('POST', '/api/v1/vms', { key: operator, body: { name: 'q-3', os: 'debian-12' } });
  assert.equal(third.status, 409);
  assert.equal(third.body.error.details.inUse, 2);

  const usage = await api.request('GET', '/api/v1/projects/tight/quotas', { key: operator });
  assert.equal(usage.status, 200);
  assert.equal(usage.body.usage.vms, 2);
  const outsider = await api.keyWithRole('operator', 'elsewhere');
  assert.equal((await api.request('GET', '/api/v1/projects/tight/quotas', { key: outsider })).status, 404);
  // The admin key acts in any project.
  assert.equal(
    (
      await api.request('POST', '/api/v1/vms?project=elsewhere', {
        key: ADMIN_KEY,
        body: { name: 'adm-1', os: 'kali' },
      })
    ).body.project,
    'elsewhere',
  );
  assert.equal(
    (await api.request('POST', '/api/v1/vms?project=tight', { key: outsider, body: { name: 'x-1', os: 'kali' } }))
      .status,
    403,
  );
});

test("templates are their project's unless an admin publishes them; a spec naming an unregistered VMID is a 400", async () => {
  const operatorA = await api.keyWithRole('operator', 'tpl-a');
  const operatorB = await api.keyWithRole('operator', 'tpl-b');
  const built = await api.request('POST', '/api/v1/templates', { key: operatorA, body: { os: 'kali', vmid: 9103 } });
  assert.equal(built.status, 202, built.text);
  await api.db.updateTable('templates').set({ status: 'ready' }).where('id', '=', built.body.id).execute();
  const listB = await api.request('GET', '/api/v1/templates', { key: operatorB });
  assert.ok(!listB.body.items.some((item: { id: string }) => item.id === built.body.id));

  const spec = (template: number) => ({
    name: `uses-${template}`,
    networks: [{ name: 'lan', cidr: '10.10.0.0/24' }],
    vms: [{ name: 'box', os: 'kali', template, networks: ['lan'] }],
  });
  const unregistered = await api.request('POST', '/api/v1/labs', { key: operatorA, body: spec(4242) });
  assert.equal(unregistered.status, 400);
  assert.equal(unregistered.body.error.details[0].path, 'vms.0.template');
  assert.match(unregistered.body.error.details[0].message, /not a template Glassdome registered/);
  const vmAsk = await api.request('POST', '/api/v1/vms', {
    key: operatorA,
    body: { name: 'odd', os: 'kali', template: 4242 },
  });
  assert.equal(vmAsk.status, 400);
  assert.equal(vmAsk.body.error.details[0].path, 'template');
  assert.equal((await api.request('POST', '/api/v1/labs', { key: operatorA, body: spec(9103) })).status, 202);
  assert.equal((await api.request('POST', '/api/v1/labs', { key: operatorB, body: spec(9103) })).status, 400);
  assert.equal(
    (
      await api.request('POST', `/api/v1/templates/${built.body.id}/publish`, {
        key: operatorA,
        body: { published: true },
      })
    ).status,
    403,
  );
  assert.equal(
    (await api.request('POST', `/api/v1/templates/${built.body.id}/publish`, { body: { published: true } })).status,
    200,
  );
  assert.equal((await api.request('POST', '/api/v1/labs', { key: operatorB, body: spec(9103) })).status, 202);
  // The configured template (TEMPLATE_VMIDS) is clonable by every project.
  assert.equal(
    (await api.request('POST', '/api/v1/labs', { key: operatorB, body: { ...spec(9000), name: 'cfg' } })).status,
    202,
  );
  // Published does not make it B's to delete or retry.
  assert.equal((await api.request('DELETE', `/api/v1/templates/${built.body.id}`, { key: operatorB })).status, 404);
});
