import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { allJobs, rowCounts, startTestApi, type TestApi } from './harness';

/** Small limit, so the "huge string" cases cross it without megabytes per request. */
const BODY_LIMIT = 32 * 1024;

let api: TestApi;
before(async () => {
  api = await startTestApi('hostile', { deps: { bodyLimitBytes: BODY_LIMIT } });
});
after(() => api.close());

const shellish = fc
  .tuple(
    fc.string({ maxLength: 20 }),
    fc.constantFrom(';', '|', '&&', '$(id)', '`id`', '>', '\n', "'", '"', ' ', '\0', '../'),
  )
  .map(([text, meta]) => `${text}${meta}rm -rf /`);
const hostileString = fc.oneof(
  shellish,
  fc.string({ minLength: 64, maxLength: 300 }),
  fc.constant('A'.repeat(BODY_LIMIT + 100)),
  fc.constantFrom('', 'UPPER', '-leading', 'trailing-', 'ünïcödé', 'web_01', '<script>', '%00', 'a'.repeat(64)),
);
const notANumber = fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.integer()), fc.object());
const unknownField = fc
  .string({ minLength: 1, maxLength: 30 })
  .filter((key) => !['name', 'os', 'template'].includes(key));

/** A valid body made invalid by at least one poison: an endpoint never sees a body it should accept. */
const endpoints = [
  { method: 'POST', path: '/api/v1/vms', base: { name: 'web-01', os: 'ubuntu-22.04' } },
  { method: 'POST', path: '/api/agents/kali/create', base: { name: 'kali-01' } },
  { method: 'POST', path: '/api/v1/templates', base: { os: 'debian-12' } },
  { method: 'POST', path: '/api/v1/permissions', base: { principal: 'u@pve', path: '/vms/100', role: 'vm-user' } },
  { method: 'POST', path: '/api/v1/labs', base: { template: 'web-pentest-101' } },
] as const;

type Poison = (body: Record<string, unknown>) => fc.Arbitrary<Record<string, unknown>>;
const poisons: Poison[] = [
  (body) => hostileString.map((name) => ({ ...body, name })),
  (body) => fc.tuple(unknownField, fc.jsonValue()).map(([key, value]) => ({ ...body, [`x-${key}`]: value })),
  (body) => notANumber.map((cpus) => ({ ...body, cpus, memoryMiB: 'lots' })),
  (body) => fc.jsonValue().map((os) => ({ ...body, os: typeof os === 'string' ? `${os}!` : os })),
  (body) => fc.constant({ ...body, cloudInit: { user: 'root; reboot', sshKeys: ['not a key'], extra: 1 } }),
];

const hostileJson = fc
  .record({ endpoint: fc.constantFrom(...endpoints), poison: fc.constantFrom(...poisons) })
  .chain(({ endpoint, poison }) =>
    poison({ ...endpoint.base }).map((body) => ({
      endpoint,
      raw: JSON.stringify(body),
      contentType: 'application/json',
    })),
  );
const hostileOther = fc.oneof(
  // Not JSON at all, or JSON that is not an object.
  fc.record({
    endpoint: fc.constantFrom(...endpoints),
    raw: fc.oneof(
      fc.string(),
      fc.constant('{"name":'),
      fc.jsonValue().map((v) => JSON.stringify([v])),
    ),
    contentType: fc.constant('application/json'),
  }),
  // Wrong content types.
  fc.record({
    endpoint: fc.constantFrom(...endpoints),
    raw: fc.string(),
    contentType: fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x'),
  }),
  // Lab YAML that is hostile or not a lab.
  fc.record({
    endpoint: fc.constant(endpoints[4]),
    raw: fc.oneof(
      fc.string(),
      shellish.map((name) => `name: "${name.replaceAll('"', '')}"\nvms: []\n`),
      fc.constant('a: &a [*a, *a]\n'),
      fc.constant('name: x\nvms: [{name: web, os: kali, $(id): 1}]\n'),
    ),
    contentType: fc.constant('application/yaml'),
  }),
);

test('200 malformed or hostile bodies all get a 4xx with field paths; nothing is written or enqueued', async () => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(
      fc.oneof({ arbitrary: hostileJson, weight: 3 }, { arbitrary: hostileOther, weight: 1 }),
      async (c) => {
        const answer = await api.request(c.endpoint.method, c.endpoint.path, {
          raw: c.raw,
          contentType: c.contentType,
        });
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        assert.ok(
          answer.status >= 400 && answer.status < 500,
          `${c.endpoint.path} answered ${answer.status}: ${answer.text}`,
        );
        assert.equal(typeof answer.body?.error?.code, 'string');
        if (answer.status === 400) {
          assert.ok(Array.isArray(answer.body.error.details) && answer.body.error.details.length > 0, answer.text);
          for (const detail of answer.body.error.details) assert.equal(typeof detail.path, 'string');
        }
      },
    ),
    { numRuns: 200 },
  );
  assert.ok((statuses.get(400) ?? 0) > 100, `mostly field errors: ${JSON.stringify([...statuses])}`);
  assert.deepEqual(await rowCounts(api.db), { vms: 0, labs: 0, templates: 0, steps: 0 });
  assert.equal((await allJobs(api.producer)).length, 0, 'no job reached Redis');
});
