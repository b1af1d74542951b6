import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allJobs, rowCounts, startTestApi, type TestApi } from './harness';

let api: TestApi;
before(async () => {
  api = await startTestApi('validation', { deps: { bodyLimitBytes: 64 * 1024 } });
});
after(() => api.close());

function paths(answer: { body: { error: { details: { path: string }[] } } }): string[] {
  return answer.body.error.details.map((detail) => detail.path).sort();
}

test('every failing field of a VM body is listed by its path, unknown fields included', async () => {
  const answer = await api.request('POST', '/api/v1/vms', {
    body: {
      name: 'Web_01;rm -rf /',
      os: 'windows-95',
      cpus: 'many',
      memoryMiB: -1,
      cloudInit: { sshKeys: [42], colour: 'red' },
      provision: [{ run: 7 }],
      admin: true,
    },
  });
  assert.equal(answer.status, 400);
  assert.equal(answer.body.error.code, 'invalid_request');
  const found = paths(answer);
  for (const expected of ['name', 'os', 'cpus', 'memoryMiB', 'cloudInit.sshKeys.0', 'cloudInit.colour', 'admin']) {
    assert.ok(found.includes(expected), `${expected} in ${found.join(', ')}`);
  }
  assert.ok(
    found.some((path) => path.startsWith('provision.0')),
    found.join(', '),
  );
});

test('query and path parameters are validated and named by where they are', async () => {
  const list = await api.request('GET', '/api/v1/vms?status=exploded&limit=0&colour=red');
  assert.equal(list.status, 400);
  assert.deepEqual(paths(list), ['query.colour', 'query.limit', 'query.status']);
  const byId = await api.request('GET', '/api/v1/vms/not-a-uuid');
  assert.equal(byId.status, 400);
  assert.deepEqual(paths(byId), ['params.id']);
  const alias = await api.request('POST', '/api/agents/windows/create', { body: { name: 'x' } });
  assert.equal(alias.status, 400);
  assert.deepEqual(paths(alias), ['params.os']);
});

test('a body over the limit is 413, a wrong content type 415, malformed JSON 400', async () => {
  const huge = await api.request('POST', '/api/v1/vms', { raw: JSON.stringify({ name: 'a'.repeat(100_000) }) });
  assert.equal(huge.status, 413);
  assert.equal(huge.body.error.code, 'payload_too_large');
  const form = await api.request('POST', '/api/v1/vms', {
    raw: 'name=web',
    contentType: 'application/x-www-form-urlencoded',
  });
  assert.equal(form.status, 415);
  const yamlVm = await api.request('POST', '/api/v1/vms', { raw: 'name: web', contentType: 'application/yaml' });
  assert.equal(yamlVm.status, 415, 'YAML is for labs only');
  const broken = await api.request('POST', '/api/v1/vms', { raw: '{"name": "web-01",' });
  assert.equal(broken.status, 400);
  assert.equal(broken.body.error.details[0].path, '');
});

test('a lab spec in YAML with errors lists each issue path; dryRun plans without writing', async () => {
  const yaml = [
    'name: Bad Lab',
    'networks:',
    '  - name: lan',
    '    cidr: 10.0.0.0/24',
    'vms:',
    '  - name: web',
    '    os: ubuntu-22.04',
    '    networks: [wan]',
    '    dependsOn: [ghost]',
  ].join('\n');
  const bad = await api.request('POST', '/api/v1/labs', { raw: yaml, contentType: 'application/yaml' });
  assert.equal(bad.status, 400);
  assert.ok(paths(bad).includes('name'), paths(bad).join(', '));

  const good = yaml.replace('Bad Lab', 'good-lab').replace('[wan]', '[lan]').replace('    dependsOn: [ghost]', '');
  const plan = await api.request('POST', '/api/v1/labs?dryRun=true', { raw: good, contentType: 'application/yaml' });
  assert.equal(plan.status, 200, plan.text);
  assert.deepEqual(
    plan.body.tasks.map((task: { id: string }) => task.id),
    ['c0:net:lan', 'c0:vm:web:provision', 'c0:vm:web:configure', 'c0:isolation'],
  );
  assert.deepEqual(plan.body.criticalPath.tasks, [
    'c0:net:lan',
    'c0:vm:web:provision',
    'c0:vm:web:configure',
    'c0:isolation',
  ]);
  assert.ok(plan.body.criticalPath.estimatedMs > 0);
  assert.deepEqual(await rowCounts(api.db), { vms: 0, labs: 0, templates: 0, steps: 0 });
  assert.equal((await allJobs(api.producer)).length, 0);
});

test('a catalog reference must name a catalog lab, and its fields are strict', async () => {
  const unknown = await api.request('POST', '/api/v1/labs', { body: { template: 'nope' } });
  assert.equal(unknown.status, 400);
  assert.deepEqual(paths(unknown), ['template']);
  const extra = await api.request('POST', '/api/v1/labs', { body: { template: 'web-pentest-101', copies: 3 } });
  assert.equal(extra.status, 400);
  assert.deepEqual(paths(extra), ['copies']);
});

test('an unknown route is a 404 in the error envelope, and openapi.json lists the paths', async () => {
  const missing = await api.request('GET', '/api/v1/nothing-here');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'not_found');
  const document = await api.request('GET', '/api/v1/openapi.json', { key: null });
  assert.equal(document.status, 200);
  assert.equal(document.body.openapi, '3.1.0');
  for (const path of ['/vms', '/vms/{id}', '/labs', '/labs/{id}/events', '/permissions', '/jobs/{id}']) {
    assert.ok(document.body.paths[path], path);
  }
  const vmSchema = document.body.paths['/vms'].post.requestBody.content['application/json'].schema;
  assert.equal(vmSchema.additionalProperties, false);
  assert.ok(vmSchema.required.includes('name'));
});
