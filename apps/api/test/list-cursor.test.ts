/**
 * The lists over HTTP: `?cursor=` with the previous answer's `nextCursor` walks a list page by page
 * to its end (nextCursor null), the deprecated `offset` still works, a bad cursor is a 400 naming
 * the field, a cursor of one list is refused by another, and a lab's events come as a JSON page
 * when JSON is asked for (the stream otherwise).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appendEvents } from '@glassdome/db';
import { startTestApi, type TestApi } from './harness';

let api: TestApi;
let labId: string;

before(async () => {
  api = await startTestApi('list-cursor');
  const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  await api.db
    .insertInto('vms')
    .values(
      range(23).map((i) => ({
        name: `vm-${i}`,
        os: 'ubuntu-22.04',
        platform_id: 'p',
        node: 'pve01',
        status: 'ready',
        spec: '{}',
      })),
    )
    .execute();
  const labs = await api.db
    .insertInto('labs')
    .values(
      range(12).map((i) => ({
        name: `lab-${i}`,
        platform_id: 'p',
        status: 'ready',
        spec: '{}',
        graph: '{}',
        on_failure: 'keep',
        copies: 1,
      })),
    )
    .returning('id')
    .execute();
  await api.db
    .insertInto('alerts')
    .values(
      range(9).map((i) => ({
        dedup_key: `alert-${i}`,
        kind: 'k',
        severity: 'warning',
        subject: 's',
        message: 'm',
        state: 'open',
      })),
    )
    .execute();
  labId = labs[0]!.id;
  await appendEvents(
    api.db,
    Array.from({ length: 17 }, (_, i) => ({ labId, kind: 'lab.progress', message: `step ${i}` })),
  );
});
after(() => api.close());

async function walk(path: string, limit: number, headers: Record<string, string> = {}) {
  const seen: unknown[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const answer = await api.request(
      'GET',
      `${path}${separator}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      { headers },
    );
    assert.equal(answer.status, 200, answer.text);
    seen.push(...answer.body.items);
    cursor = answer.body.nextCursor;
    pages += 1;
  } while (cursor);
  return { seen, pages };
}

test('GET /vms, /labs and /alerts walk to their end by nextCursor, each row once', async () => {
  for (const [path, total, key] of [
    ['/api/v1/vms', 23, 'id'],
    ['/api/v1/labs', 12, 'id'],
    ['/api/v1/alerts', 9, 'id'],
  ] as const) {
    const { seen, pages } = await walk(path, 5);
    assert.equal(seen.length, total, path);
    assert.equal(new Set(seen.map((row) => (row as Record<string, string>)[key])).size, total, path);
    assert.equal(pages, Math.ceil(total / 5), path);
  }
});

test('the deprecated offset still pages, and says where to continue by cursor', async () => {
  const first = await api.request('GET', '/api/v1/labs?limit=5&offset=10');
  assert.equal(first.status, 200);
  assert.equal(first.body.items.length, 2);
  assert.equal(first.body.nextCursor, null);
  const middle = await api.request('GET', '/api/v1/labs?limit=5&offset=5');
  assert.equal(typeof middle.body.nextCursor, 'string');
});

test('a bad cursor is a 400 naming the field; so is one of another list, or one next to an offset', async () => {
  const garbled = await api.request('GET', '/api/v1/vms?cursor=nonsense');
  assert.equal(garbled.status, 400);
  assert.match(garbled.text, /cursor/);
  const labsPage = await api.request('GET', '/api/v1/labs?limit=2');
  const crossed = await api.request('GET', `/api/v1/vms?cursor=${labsPage.body.nextCursor}`);
  assert.equal(crossed.status, 400);
  assert.match(crossed.text, /another list/);
  const both = await api.request('GET', `/api/v1/labs?offset=2&cursor=${labsPage.body.nextCursor}`);
  assert.equal(both.status, 400);
  assert.match(both.text, /offset/);
});

test("a lab's events: a JSON page when JSON is asked for, oldest first; the stream otherwise", async () => {
  const json = { accept: 'application/json' };
  const { seen } = await walk(`/api/v1/labs/${labId}/events`, 4, json);
  assert.deepEqual(
    seen.map((event) => (event as { message: string }).message),
    Array.from({ length: 17 }, (_, i) => `step ${i}`),
  );
  const controller = new AbortController();
  const stream = await fetch(`${api.url}/api/v1/labs/${labId}/events`, {
    headers: { authorization: 'Bearer test-admin-key-0123456789abcdef' },
    signal: controller.signal,
  });
  assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
  controller.abort();
});

test('GET /vms shows each VM and its steps as GET /vms/:id does: times to the millisecond, durations, errors', async () => {
  // Times the list writes as text in SQL and the detail reads as Dates: fractions a Date truncates
  // (.999999, .0005), none, exact milliseconds; steps finished or not, with an error, an empty one or none.
  const steps = [
    ['reserve-vmid', 'done', 1, '09:59:59.0005', '10:00:00.123999', '10:00:02.999999', null],
    ['clone', 'failed', 2, '10:00:00', '10:00:03.5', '10:00:03.5', 'clone failed: timeout'],
    ['configure', 'running', 1, '10:00:00.000001', '10:00:04.25', null, ''],
    ['start', 'pending', 0, '10:00:00.5', null, null, null],
  ] as const;
  const vms = await api.db.selectFrom('vms').select('id').where('name', 'in', ['vm-1', 'vm-2', 'vm-3']).execute();
  await api.db
    .updateTable('vms')
    .set((eb) => ({
      observed_at: eb.cast<Date>(eb.val('2026-03-01 10:00:00.999999+00'), 'timestamptz'),
      updated_at: eb.cast<Date>(eb.val('2026-03-01 10:00:01+00'), 'timestamptz'),
      observed_status: 'running',
      error: 'it failed',
      ip: '10.0.0.9',
      vmid: 101,
    }))
    .where('name', 'in', ['vm-1', 'vm-2'])
    .execute();
  await api.db
    .insertInto('steps')
    .values(
      vms.flatMap((vm) =>
        steps.map(([name, status, attempts, , , , error]) => ({ vm_id: vm.id, name, status, attempts, error })),
      ),
    )
    .execute();
  for (const [name, , , queued, started, finished] of steps) {
    await api.db
      .updateTable('steps')
      .set((eb) => {
        const at = (time: string | null) =>
          time === null ? null : eb.cast<Date>(eb.val(`2026-03-01 ${time}+00`), 'timestamptz');
        return { queued_at: at(queued)!, started_at: at(started), finished_at: at(finished) };
      })
      .where('name', '=', name)
      .execute();
  }
  const { seen } = await walk('/api/v1/vms', 4);
  const withSteps = seen.filter((vm) => (vm as { steps: unknown[] }).steps.length > 0);
  assert.equal(withSteps.length, 3);
  for (const vm of seen) {
    const detail = await api.request('GET', `/api/v1/vms/${(vm as { id: string }).id}`);
    assert.equal(detail.status, 200);
    assert.deepEqual(vm, detail.body);
  }
  const step = (withSteps[0] as { steps: Record<string, unknown>[] }).steps;
  assert.deepEqual(step[0], {
    name: 'reserve-vmid',
    status: 'done',
    attempts: 1,
    queuedAt: '2026-03-01T09:59:59.000Z',
    startedAt: '2026-03-01T10:00:00.123Z',
    finishedAt: '2026-03-01T10:00:02.999Z',
    durationMs: 2876,
  });
});
