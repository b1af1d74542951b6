import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allJobs, allRelayed, rowCounts, startTestApi, type TestApi } from './harness';

let api: TestApi;
before(async () => {
  api = await startTestApi('idempotency');
});
after(() => api.close());

test('the same Idempotency-Key twice gives the same answer, one row and one job', async () => {
  const request = { body: { name: 'once-only', os: 'debian-12' }, headers: { 'idempotency-key': 'deploy-once-1' } };
  const first = await api.request('POST', '/api/v1/vms', request);
  const second = await api.request('POST', '/api/v1/vms', request);
  assert.equal(first.status, 202);
  assert.equal(second.status, 202);
  assert.deepEqual(second.body, first.body);
  assert.equal(second.headers.get('location'), first.headers.get('location'));
  assert.equal(second.headers.get('idempotent-replayed'), 'true');
  assert.equal((await rowCounts(api.db)).vms, 1);
  await allRelayed(api.db);
  assert.equal((await allJobs(api.producer)).length, 1);
});

test('the same key with a different body is 409; without the key the name conflict is 409 too', async () => {
  const reuse = await api.request('POST', '/api/v1/vms', {
    body: { name: 'something-else', os: 'debian-12' },
    headers: { 'idempotency-key': 'deploy-once-1' },
  });
  assert.equal(reuse.status, 409);
  assert.match(reuse.body.error.message, /Idempotency-Key/);
  const plain = await api.request('POST', '/api/v1/vms', { body: { name: 'once-only', os: 'debian-12' } });
  assert.equal(plain.status, 409);
  assert.equal((await rowCounts(api.db)).vms, 1);
});

test('keys are per API key: another key with the same Idempotency-Key does its own work', async () => {
  const operator = await api.keyWithRole('operator');
  const answer = await api.request('POST', '/api/v1/labs', {
    key: operator,
    body: { template: 'web-pentest-101' },
    headers: { 'idempotency-key': 'deploy-once-1' },
  });
  assert.equal(answer.status, 202, answer.text);
  const replay = await api.request('POST', '/api/v1/labs', {
    key: operator,
    body: { template: 'web-pentest-101' },
    headers: { 'idempotency-key': 'deploy-once-1' },
  });
  assert.deepEqual(replay.body, answer.body);
  assert.equal((await rowCounts(api.db)).labs, 1);
});

test('an unusable Idempotency-Key is a 400 naming the header', async () => {
  const answer = await api.request('POST', '/api/v1/vms', {
    body: { name: 'x-1', os: 'kali' },
    headers: { 'idempotency-key': 'x'.repeat(201) },
  });
  assert.equal(answer.status, 400);
  assert.equal(answer.body.error.details[0].path, 'headers.idempotency-key');
});
