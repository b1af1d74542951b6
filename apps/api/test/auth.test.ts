import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { listApiKeys } from '@glassdome/db';
import { allJobs, rowCounts, startTestApi, type TestApi, VALID_VM } from './harness';

let api: TestApi;
before(async () => {
  api = await startTestApi('auth');
});
after(() => api.close());

test('no key and a malformed Authorization header are 401 with the error envelope', async () => {
  for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer' }] as Record<string, string>[]) {
    const answer = await api.request('GET', '/api/v1/vms', { key: null, headers });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error.code, 'unauthorized');
  }
});

test('an unknown key and a revoked key are 401', async () => {
  assert.equal((await api.request('GET', '/api/v1/vms', { key: 'gd_not-a-real-key' })).status, 401);
  const key = await api.keyWithRole('operator');
  assert.equal((await api.request('GET', '/api/v1/vms', { key })).status, 200);
  const listed = (await api.request('GET', '/api/v1/keys')).body.items as { id: string; prefix: string }[];
  const id = listed.find((entry) => key.startsWith(entry.prefix))!.id;
  assert.equal((await api.request('DELETE', `/api/v1/keys/${id}`)).status, 200);
  assert.equal((await api.request('GET', '/api/v1/vms', { key })).status, 401);
});

test('a viewer reads but every mutation is 403, and nothing is written or enqueued', async () => {
  const viewer = await api.keyWithRole('viewer');
  assert.equal((await api.request('GET', '/api/v1/vms', { key: viewer })).status, 200);
  assert.equal((await api.request('GET', '/api/v1/lab-templates', { key: viewer })).status, 200);
  const attempts = [
    ['POST', '/api/v1/vms', VALID_VM],
    ['POST', '/api/agents/kali/create', { name: 'k-1' }],
    ['POST', '/api/v1/labs', { template: 'web-pentest-101' }],
    ['POST', '/api/v1/templates', { os: 'kali' }],
    ['DELETE', '/api/v1/vms/00000000-0000-4000-8000-000000000000', undefined],
    ['POST', '/api/v1/alerts/00000000-0000-4000-8000-000000000000/ack', undefined],
  ] as const;
  for (const [method, path, body] of attempts) {
    const answer = await api.request(method, path, { key: viewer, body });
    assert.equal(answer.status, 403, `${method} ${path}`);
    assert.equal(answer.body.error.code, 'forbidden');
  }
  assert.deepEqual(await rowCounts(api.db), { vms: 0, labs: 0, templates: 0, steps: 0 });
  assert.equal((await allJobs(api.producer)).length, 0);
});

test('permissions and keys are admin-only; an operator gets 403', async () => {
  const operator = await api.keyWithRole('operator');
  const grant = { principal: 'trainee@pve', path: '/vms/100', role: 'vm-user' };
  assert.equal((await api.request('POST', '/api/v1/permissions', { key: operator, body: grant })).status, 403);
  assert.equal((await api.request('GET', '/api/v1/keys', { key: operator })).status, 403);
  assert.equal(
    (await api.request('POST', '/api/v1/keys', { key: operator, body: { name: 'x', role: 'admin' } })).status,
    403,
  );
});

test('a created key is answered once and stored only as a hash; listings show its prefix', async () => {
  const created = await api.request('POST', '/api/v1/keys', { body: { name: 'ci runner', role: 'operator' } });
  assert.equal(created.status, 201);
  const key = created.body.key as string;
  assert.match(key, /^gd_[A-Za-z0-9_-]{43}$/);
  const listing = await api.request('GET', '/api/v1/keys');
  assert.ok(!listing.text.includes(key), 'the key is never listed');
  assert.ok(listing.body.items.some((item: { prefix: string }) => key.startsWith(item.prefix)));
  const stored = await listApiKeys(api.db);
  assert.ok(stored.every((row) => !JSON.stringify(row).includes(key)));
  assert.equal((await api.request('GET', '/api/v1/vms', { key })).status, 200);
});

test('Bull Board is 401 without a key, 403 for an operator and 200 for an admin', async () => {
  assert.equal((await api.request('GET', '/admin/queues', { key: null })).status, 401);
  const operator = await api.keyWithRole('operator');
  assert.equal((await api.request('GET', '/admin/queues', { key: operator })).status, 403);
  const page = await api.request('GET', '/admin/queues');
  assert.equal(page.status, 200);
  assert.match(page.text, /<html/i);
});
