/**
 * The named-network routes without a gateway (so a new network stays `creating`): who may create,
 * read and delete one, what a bad body names, and that a VM cannot name a network that is not ready.
 * The whole path through the gateway and the simulator is networks.e2e.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Answer, startTestApi, type TestApi } from './harness';

let api: TestApi;
before(async () => {
  api = await startTestApi('networks');
});
after(() => api.close());

const fieldsOf = (answer: Answer): string[] =>
  ((answer.body.error?.details ?? []) as { path: string }[]).map((issue) => issue.path).sort();

test('only an admin creates a network; a bad body names each field; a name is taken once per project', async () => {
  const operator = await api.keyWithRole('operator', 'blue');
  const asOperator = await api.request('POST', '/api/v1/networks', {
    key: operator,
    body: { name: 'a', project: 'blue' },
  });
  assert.equal(asOperator.status, 403);
  const bad = await api.request('POST', '/api/v1/networks', {
    body: { name: '-x', project: 'Blue', cidr: '10.0.0.0/31', vlan: 5 },
  });
  assert.equal(bad.status, 400);
  assert.deepEqual(fieldsOf(bad), ['cidr', 'name', 'project', 'vlan']);
  const made = await api.request('POST', '/api/v1/networks', { body: { name: 'range', project: 'blue' } });
  assert.equal(made.status, 202, made.text);
  assert.equal(made.body.status, 'creating');
  const taken = await api.request('POST', '/api/v1/networks', { body: { name: 'range', project: 'blue' } });
  assert.equal(taken.status, 409);
  const elsewhere = await api.request('POST', '/api/v1/networks', { body: { name: 'range', project: 'red' } });
  assert.equal(elsewhere.status, 202, 'another project may use the name');
});

test("a project's keys read only its own networks; a network being made can be neither named nor deleted", async () => {
  const blueViewer = await api.keyWithRole('viewer', 'blue');
  const blue = await api.keyWithRole('operator', 'blue');
  const listed = await api.request('GET', '/api/v1/networks', { key: blueViewer });
  assert.equal(listed.status, 200);
  assert.deepEqual(
    (listed.body.items as { name: string; project: string }[]).map((n) => `${n.project}/${n.name}`),
    ['blue/range'],
  );
  const all = await api.request('GET', '/api/v1/networks');
  const red = (all.body.items as { id: string; project: string }[]).find((n) => n.project === 'red')!;
  assert.equal((await api.request('GET', `/api/v1/networks/${red.id}`, { key: blueViewer })).status, 404);
  assert.equal((await api.request('GET', '/api/v1/networks/not-a-uuid')).status, 400);

  const early = await api.request('POST', '/api/v1/vms', {
    key: blue,
    body: { name: 'early', os: 'ubuntu-22.04', network: { name: 'range' } },
  });
  assert.equal(early.status, 400, early.text);
  assert.deepEqual(fieldsOf(early), ['network.name']);
  assert.match(early.text, /creating, not ready/);
  const unknown = await api.request('POST', '/api/v1/vms', {
    key: blue,
    body: { name: 'lost', os: 'ubuntu-22.04', network: { name: 'nowhere' } },
  });
  assert.deepEqual(fieldsOf(unknown), ['network.name']);

  const blueNetwork = (all.body.items as { id: string; project: string }[]).find((n) => n.project === 'blue')!;
  assert.equal((await api.request('DELETE', `/api/v1/networks/${blueNetwork.id}`)).status, 409);
  assert.equal((await api.request('DELETE', `/api/v1/networks/${red.id}`, { key: blue })).status, 403);
});
