import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApi, type TestApi } from './harness';

const LIMIT = 5;
let api: TestApi;
before(async () => {
  api = await startTestApi('ratelimit', { deps: { rateLimit: LIMIT } });
});
after(() => api.close());

test('each API key gets LIMIT requests per window, then 429 with Retry-After; other keys are unaffected', async () => {
  const key = await api.keyWithRole('viewer');
  // 2×LIMIT+1 requests touch at most two fixed windows, so at least one must be refused.
  const answers = [];
  for (let i = 0; i < 2 * LIMIT + 1; i++) answers.push(await api.request('GET', '/api/v1/vms', { key }));
  const allowed = answers.filter((answer) => answer.status === 200).length;
  const limited = answers.filter((answer) => answer.status === 429);
  assert.equal(allowed + limited.length, answers.length);
  assert.ok(allowed >= LIMIT && allowed <= 2 * LIMIT, `allowed ${allowed}`);
  assert.ok(limited.length >= 1);
  assert.equal(limited[0]!.body.error.code, 'rate_limited');
  assert.ok(Number(limited[0]!.headers.get('retry-after')) >= 1);
  const other = await api.keyWithRole('viewer');
  assert.equal((await api.request('GET', '/api/v1/vms', { key: other })).status, 200);
});

test('the counters live in Redis under the queue prefix', async () => {
  const keys = await api.producer.connection.keys(`${api.prefix}:ratelimit:*`);
  assert.ok(keys.length >= 2, keys.join(','));
});

test('concurrent requests of one key are counted one by one: LIMIT pass in a window, every request counted', async () => {
  const key = await api.keyWithRole('viewer');
  const me = await api.request('GET', '/api/v1/me', { key });
  assert.equal(me.status, 200, me.text);
  const answers = await Promise.all(
    Array.from({ length: 3 * LIMIT }, () => api.request('GET', '/api/v1/vms', { key })),
  );
  const allowed = answers.filter((answer) => answer.status === 200).length;
  assert.equal(answers.filter((answer) => answer.status === 429).length, answers.length - allowed);
  // At most two fixed windows: LIMIT in each, less the /me request.
  assert.ok(allowed >= LIMIT - 1 && allowed <= 2 * LIMIT - 1, `allowed ${allowed}`);
  const counters = await api.producer.connection.keys(`${api.prefix}:ratelimit:${me.body.keyId}:*`);
  const counts = await Promise.all(counters.map((counter) => api.producer.connection.get(counter)));
  assert.equal(
    counts.reduce((sum, count) => sum + Number(count), 0),
    3 * LIMIT + 1,
  );
  for (const counter of counters) assert.ok((await api.producer.connection.pttl(counter)) > 0, 'each counter expires');
});
