/**
 * The exercise routes against the API alone (no workers: labs stay queued): another project's lab is
 * a 404 on each of them, bad input names the field, a lab that is not up takes no snapshot, quotas
 * bound TTLs, copies and pools, saved specs are versioned per project, templates show their
 * parameters, and a trainee key may reset but not snapshot.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApi, type TestApi } from './harness';

let api: TestApi;
let labId: string;
let otherProject: string;
before(async () => {
  api = await startTestApi('exercises');
  const answer = await api.request('POST', '/api/v1/labs', {
    body: {
      name: 'class-a',
      copies: 2,
      networks: [{ name: 'lan', cidr: '10.20.0.0/24' }],
      vms: [{ name: 'box', os: 'ubuntu-22.04', networks: ['lan'] }],
    },
  });
  assert.equal(answer.status, 202, answer.text);
  labId = answer.body.id;
  otherProject = await api.keyWithRole('operator', 'team-b');
});
after(() => api.close());

test("another project's lab is a 404 on every exercise route", async () => {
  const calls: [string, string, unknown?][] = [
    ['GET', `/api/v1/labs/${labId}/snapshots`],
    ['POST', `/api/v1/labs/${labId}/snapshots`, { name: 'before' }],
    ['DELETE', `/api/v1/labs/${labId}/snapshots/before`],
    ['POST', `/api/v1/labs/${labId}/revert`, { snapshot: 'before' }],
    ['POST', `/api/v1/labs/${labId}/reset`, {}],
    ['GET', `/api/v1/labs/${labId}/operations`],
    ['GET', `/api/v1/labs/${labId}/roster`],
    ['PATCH', `/api/v1/labs/${labId}`, { ttl: '2h' }],
    ['POST', `/api/v1/labs/${labId}/testing`, { egress: 'allow' }],
    ['DELETE', `/api/v1/labs/${labId}/testing`],
  ];
  for (const [method, path, body] of calls) {
    const answer = await api.request(method, path, { key: otherProject, ...(body === undefined ? {} : { body }) });
    assert.equal(answer.status, 404, `${method} ${path}: ${answer.text}`);
  }
});

test('bad input names the field; a lab that is not up takes no snapshot or revert', async () => {
  const cases: [string, string, unknown, number, RegExp][] = [
    ['POST', 'snapshots', { name: '1bad' }, 400, /"path":"name"/],
    ['POST', 'snapshots', { name: 'initial' }, 400, /reset reverts to it/],
    [
      'POST',
      'snapshots',
      { name: 'ok-name', copy: 0, vmId: '00000000-0000-4000-8000-000000000000' },
      400,
      /"path":"vmId"/,
    ],
    ['POST', 'snapshots', { name: 'ok-name', colour: 'red' }, 400, /"path":"colour"/],
    ['POST', 'snapshots', { name: 'ok-name' }, 409, /queued lab takes no snapshots/],
    ['POST', 'revert', { snapshot: 'ok-name' }, 409, /queued lab/],
    ['POST', 'testing', { egress: ['10.0.0.1:80'] }, 400, /"path":"egress\.0"/],
    ['POST', 'testing', { egress: 'allow', duration: '2d' }, 400, /at most 1d/],
    ['POST', 'testing', { egress: 'allow', networks: ['nope'] }, 400, /not networks of this lab: nope/],
  ];
  for (const [method, path, body, status, pattern] of cases) {
    const answer = await api.request(method, `/api/v1/labs/${labId}/${path}`, { body });
    assert.equal(answer.status, status, `${path} ${JSON.stringify(body)}: ${answer.text}`);
    assert.match(answer.text, pattern);
  }
  const missing = await api.request('GET', `/api/v1/labs/${labId}/operations/00000000-0000-4000-8000-000000000000`);
  assert.equal(missing.status, 404);
});

test("PATCH moves the expiry within the project's TTL quota", async () => {
  const moved = await api.request('PATCH', `/api/v1/labs/${labId}`, { body: { ttl: '3d' } });
  assert.equal(moved.status, 200, moved.text);
  assert.ok(Date.parse(moved.body.expiresAt) > Date.now() + 2.9 * 86400_000);
  const quota = await api.request('PUT', '/api/v1/projects/default/quotas', { body: { maxLabTtlSeconds: 86400 } });
  assert.equal(quota.status, 200, quota.text);
  const over = await api.request('PATCH', `/api/v1/labs/${labId}`, { body: { ttl: '2d' } });
  assert.equal(over.status, 422, over.text);
  assert.equal(over.body.error.details.quota, 'maxLabTtlSeconds');
  const bad = await api.request('PATCH', `/api/v1/labs/${labId}`, { body: { ttl: 'soon' } });
  assert.equal(bad.status, 400);
  await api.request('PUT', '/api/v1/projects/default/quotas', { body: { maxLabTtlSeconds: null } });
});

test('the roster has one row per copy and VM, as JSON or CSV', async () => {
  const roster = await api.request('GET', `/api/v1/labs/${labId}/roster`);
  assert.equal(roster.status, 200, roster.text);
  assert.deepEqual(
    roster.body.rows.map((row: { copyNumber: number; vm: string; addresses: Record<string, string> }) => [
      row.copyNumber,
      row.vm,
      row.addresses.lan,
    ]),
    [
      [1, 'box', '10.20.0.2/24'],
      [2, 'box', '10.20.0.2/24'],
    ],
  );
  const csv = await api.request('GET', `/api/v1/labs/${labId}/roster?format=csv`);
  assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
  assert.equal(csv.text.trim().split('\r\n').length, 3);
});

test('a catalog template shows its parameters; copies and ttl follow the project quotas, not fixed caps', async () => {
  const template = await api.request('GET', '/api/v1/lab-templates/web-pentest-101');
  assert.equal(template.status, 200, template.text);
  assert.deepEqual(template.body.parameters.traineeKeys.vms, ['attacker']);
  assert.equal(template.body.parameters.copies.max, 100, 'the configured default (200) capped by the spec bound');
  assert.equal((await api.request('GET', '/api/v1/lab-templates/nope')).status, 404);

  const many = await api.request('POST', '/api/v1/labs', {
    body: { template: 'web-pentest-101', name: 'big-class', parameters: { copies: 40 } },
  });
  assert.equal(many.status, 202, `40 copies pass the configured quota: ${many.text}`);
  await api.request('PUT', '/api/v1/projects/default/quotas', { body: { maxCopies: 3 } });
  const capped = await api.request('POST', '/api/v1/labs', {
    body: { template: 'web-pentest-101', name: 'capped', parameters: { copies: 4 } },
  });
  assert.equal(capped.status, 400, capped.text);
  assert.match(capped.text, /"path":"copies","message":"exceeds the quota of 3 copies"/);
  await api.request('PUT', '/api/v1/projects/default/quotas', { body: { maxCopies: null } });
});

test('saved specs are versioned per project and deploy by name', async () => {
  const spec = {
    name: 'red-team',
    networks: [{ name: 'lan', cidr: '10.30.0.0/24' }],
    vms: [{ name: 'kali', os: 'kali', networks: ['lan'] }],
  };
  const first = await api.request('POST', '/api/v1/lab-specs', { body: { spec } });
  assert.equal(first.status, 201, first.text);
  const second = await api.request('POST', '/api/v1/lab-specs', {
    body: { spec: { ...spec, description: 'second take' }, description: 'v2' },
  });
  assert.equal(second.body.version, 2);
  const shown = await api.request('GET', '/api/v1/lab-specs/red-team');
  assert.equal(shown.body.version, 2);
  assert.deepEqual(
    shown.body.versions.map((v: { version: number }) => v.version),
    [2, 1],
  );
  assert.equal((await api.request('GET', '/api/v1/lab-specs/red-team', { key: otherProject })).status, 404);
  const invalid = await api.request('POST', '/api/v1/lab-specs', { body: { spec: { ...spec, vms: [] } } });
  assert.equal(invalid.status, 400);

  const deployed = await api.request('POST', '/api/v1/labs', {
    body: { spec: 'red-team', version: 1, name: 'red-1', parameters: { ttl: '2h' } },
  });
  assert.equal(deployed.status, 202, deployed.text);
  const lab = await api.request('GET', `/api/v1/labs/${deployed.body.id}`);
  assert.deepEqual(lab.body.source.spec, 'red-team');
  assert.equal(lab.body.source.version, 1);
  const unknown = await api.request('POST', '/api/v1/labs', { body: { spec: 'nope' } });
  assert.equal(unknown.status, 400);
  assert.match(unknown.text, /saved spec nope not found/);
  assert.equal((await api.request('DELETE', '/api/v1/lab-specs/red-team')).body.deletedVersions, 2);
});

test("pools are sized within the project's quotas and stay in their project", async () => {
  await api.request('PUT', '/api/v1/projects/default/quotas', { body: { maxCopies: 50 } });
  const tooBig = await api.request('POST', '/api/v1/pools', {
    body: { name: 'huge', template: 'web-pentest-101', size: 60 },
  });
  assert.equal(tooBig.status, 409, tooBig.text);
  assert.equal(tooBig.body.error.details.quota, 'maxCopies');
  await api.request('PUT', '/api/v1/projects/default/quotas', { body: { maxCopies: null } });
  const both = await api.request('POST', '/api/v1/pools', {
    body: { name: 'x', template: 'web-pentest-101', spec: 'y', size: 1 },
  });
  assert.equal(both.status, 400);
  const created = await api.request('POST', '/api/v1/pools', {
    body: { name: 'monday', template: 'web-pentest-101', size: 0 },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal((await api.request('GET', `/api/v1/pools/${created.body.id}`, { key: otherProject })).status, 404);
  assert.equal((await api.request('GET', '/api/v1/pools', { key: otherProject })).body.items.length, 0);
  const empty = await api.request('POST', '/api/v1/pools/monday/claim', { body: {} });
  assert.equal(empty.status, 409);
  assert.match(empty.text, /no ready copy/);
  await api.request('PUT', '/api/v1/projects/default/quotas', { body: { maxCopies: 50 } });
  const overQuota = await api.request('POST', '/api/v1/pools/monday/schedules', {
    body: { size: 60, cron: '30 8 * * 1' },
  });
  assert.equal(overQuota.status, 409, `a scheduled size counts as a resize: ${overQuota.text}`);
  assert.equal(overQuota.body.error.details.quota, 'maxCopies');
  await api.request('PUT', '/api/v1/projects/default/quotas', { body: { maxCopies: null } });
  const bothTimes = await api.request('POST', '/api/v1/pools/monday/schedules', {
    body: { size: 3, cron: '30 8 * * 1', at: '2030-01-01T08:30:00Z' },
  });
  assert.equal(bothTimes.status, 400, bothTimes.text);
  assert.match(bothTimes.text, /"path":"cron"/);
  const schedule = await api.request('POST', '/api/v1/pools/monday/schedules', {
    body: { size: 3, cron: '30 8 * * 1' },
  });
  assert.equal(schedule.status, 201, schedule.text);
  const listed = await api.request('GET', '/api/v1/pools/monday');
  assert.equal(listed.body.schedules.length, 1);
  assert.equal(listed.body.schedules[0].cron, '30 8 * * 1');
  assert.equal((await api.request('DELETE', `/api/v1/pools/monday/schedules/${schedule.body.id}`)).status, 200);
  assert.equal((await api.request('DELETE', '/api/v1/pools/monday')).status, 200);
});

test('a trainee key may reset its copy but takes no snapshot and sees no pools', async () => {
  const created = await api.request('POST', `/api/v1/labs/${labId}/trainee-keys`, { body: { copy: 1 } });
  assert.equal(created.status, 201, created.text);
  const trainee = created.body.key as string;
  const snapshot = await api.request('POST', `/api/v1/labs/${labId}/snapshots`, { key: trainee, body: { name: 'x1' } });
  assert.equal(snapshot.status, 403);
  assert.equal((await api.request('GET', '/api/v1/pools', { key: trainee })).status, 403);
  const reset = await api.request('POST', `/api/v1/labs/${labId}/reset`, { key: trainee, body: {} });
  assert.equal(reset.status, 409, `allowed through, refused by the lab's state: ${reset.text}`);
  const roster = await api.request('GET', `/api/v1/labs/${labId}/roster`, { key: trainee });
  assert.deepEqual(
    roster.body.rows.map((row: { copyNumber: number }) => row.copyNumber),
    [2],
    'its own copy only',
  );
});

test('the OpenAPI document lists every exercise route with its method', async () => {
  const document = await api.request('GET', '/api/v1/openapi.json', { key: null });
  const routes = [
    'post /labs/{id}/snapshots',
    'get /labs/{id}/snapshots',
    'delete /labs/{id}/snapshots/{name}',
    'post /labs/{id}/revert',
    'post /labs/{id}/reset',
    'get /labs/{id}/operations',
    'get /labs/{id}/operations/{operationId}',
    'post /vms/{id}/snapshots',
    'get /vms/{id}/snapshots',
    'post /vms/{id}/revert',
    'post /vms/{id}/reset',
    'get /labs/{id}/roster',
    'patch /labs/{id}',
    'post /labs/{id}/cancel',
    'get /labs/{id}/testing',
    'post /labs/{id}/testing',
    'delete /labs/{id}/testing',
    'get /lab-templates/{id}',
    'post /labs',
    'get /lab-specs',
    'post /lab-specs',
    'get /lab-specs/{name}',
    'get /lab-specs/{name}/versions/{version}',
    'delete /lab-specs/{name}',
    'get /pools',
    'post /pools',
    'get /pools/{id}',
    'patch /pools/{id}',
    'delete /pools/{id}',
    'post /pools/{id}/claim',
    'get /pools/{id}/schedules',
    'post /pools/{id}/schedules',
    'delete /pools/{id}/schedules/{scheduleId}',
  ];
  const missing = routes.filter((route) => {
    const [method, path] = route.split(' ') as [string, string];
    return !document.body.paths[path]?.[method];
  });
  assert.deepEqual(missing, []);
  const cancel = document.body.paths['/labs/{id}/cancel'].post.parameters as { name: string }[];
  assert.ok(
    cancel.some((parameter) => parameter.name === 'destroyVms'),
    'cancel documents ?destroyVms',
  );
  const byReference = JSON.stringify(document.body.paths['/labs'].post.requestBody);
  assert.match(byReference, /"template"/, 'POST /labs documents a catalog template with parameters');
  assert.match(byReference, /"parameters"/);
});
