/**
 * `GET /nodes/{node}/tasks` answers as PVE's task list does: the index of finished tasks by default,
 * the running ones with `source=active`, both with `all`, narrowed by start time and kind of exit.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cloneTemplate, startTestSim, type TestSim } from './helpers';

let sim: TestSim;
/** A clone that runs until the test stops it (its linked-clone copy takes ~17 min at this scale). */
let running: string;

before(async () => {
  sim = await startTestSim({ latencies: { linkedClone: 100_000_000 } });
  await sim.admin('POST', '/faults', { failTasks: { type: 'qmstart', count: 1 } });
  assert.equal(await cloneTemplate(sim, 8101, { full: '1' }), 'OK');
  const start = await sim.api('POST', '/nodes/pve01/qemu/8101/status/start');
  assert.match(await sim.waitTask(start.body?.data), /injected failure of task qmstart/);
  const clone = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '8102' });
  running = String(clone.body?.data);
});

after(async () => {
  await sim.api('DELETE', `/nodes/pve01/tasks/${encodeURIComponent(running)}`);
  await sim.stop();
});

type Item = { upid: string; type: string; status: string; endtime?: number; starttime: number };
async function list(params: Record<string, string> = {}): Promise<{ items: Item[]; total: number }> {
  const answer = await sim.api('GET', '/nodes/pve01/tasks', params);
  assert.equal(answer.status, 200, answer.statusText);
  return { items: answer.body?.data as Item[], total: Number(answer.body?.total) };
}

test('by default only finished tasks, each with its end time and exit text as status', async () => {
  const { items, total } = await list();
  assert.ok(items.length >= 2);
  assert.equal(total, items.length);
  assert.ok(!items.some((item) => item.upid === running), 'the running clone is not in the index');
  assert.ok(items.every((item) => typeof item.endtime === 'number' && item.status !== 'RUNNING'));
  assert.deepEqual(
    items.filter((item) => item.type === 'qmclone').map((item) => item.status),
    ['OK'],
  );
});

test('source=active lists the running tasks as RUNNING, source=all both, running first', async () => {
  const active = await list({ source: 'active' });
  assert.deepEqual(
    active.items.map((item) => [item.upid, item.status, item.endtime]),
    [[running, 'RUNNING', undefined]],
  );
  const all = await list({ source: 'all' });
  assert.equal(all.items[0]?.upid, running);
  assert.equal(all.total, (await list()).total + 1);
});

test('statusfilter and errors keep the kinds of exit asked for; a running task counts as unknown', async () => {
  const failed = await list({ statusfilter: 'error' });
  assert.deepEqual(
    failed.items.map((item) => item.type),
    ['qmstart'],
  );
  const errors = await list({ errors: '1', source: 'all' });
  assert.deepEqual(errors.items.map((item) => item.type).sort(), ['qmclone', 'qmstart']);
  assert.equal(errors.items.find((item) => item.type === 'qmclone')?.upid, running);
  assert.equal((await list({ statusfilter: 'ok', source: 'active' })).total, 0);
  assert.equal((await list({ statusfilter: 'ok,unknown', source: 'active' })).total, 1);
});

test('since and until compare the start time; typefilter and limit narrow the page, not the total', async () => {
  const { items } = await list({ source: 'all' });
  const newest = Math.max(...items.map((item) => item.starttime));
  assert.ok((await list({ source: 'all', since: String(newest + 1) })).items.length === 0);
  assert.equal((await list({ source: 'all', until: String(newest) })).total, items.length);
  const page = await list({ source: 'all', typefilter: 'qmclone', limit: '1' });
  assert.equal(page.items.length, 1);
  assert.equal(page.total, 2);
});
