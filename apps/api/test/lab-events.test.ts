import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appendEvent } from '@glassdome/db';
import { waitFor } from '@glassdome/testkit';
import { ADMIN_KEY, startTestApi, type TestApi } from './harness';

let api: TestApi;
before(async () => {
  api = await startTestApi('labevents', { deps: { labEvents: { keepAliveMs: 200 } } });
});
after(() => api.close());

interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  comment?: boolean;
}

/** Reads a Server-Sent Events stream into parsed messages until aborted. */
function follow(path: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const messages: SseMessage[] = [];
  const done = (async () => {
    const response = await fetch(`${api.url}${path}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}`, ...headers },
      signal: controller.signal,
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const message: SseMessage = {};
        for (const line of buffer.slice(0, end).split('\n')) {
          if (line.startsWith(':')) message.comment = true;
          const [field, ...rest] = line.split(': ');
          if (field === 'id' || field === 'event' || field === 'data') message[field] = rest.join(': ');
        }
        messages.push(message);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
      }
    }
  })().catch((error: Error) => {
    if (error.name !== 'AbortError') throw error;
  });
  return { messages, stop: () => controller.abort(), done };
}

const progress = (messages: SseMessage[]) =>
  messages.filter((m) => m.event === 'progress').map((m) => JSON.parse(m.data!).kind as string);

test('the stream replays the timeline, follows new events and status changes, and resumes by Last-Event-ID', async () => {
  const created = await api.request('POST', '/api/v1/labs', { body: { template: 'web-pentest-101' } });
  const labId = created.body.id as string;
  const stream = follow(`/api/v1/labs/${labId}/events`);
  await waitFor('replayed request event', () => progress(stream.messages).includes('lab.requested'));
  await waitFor('initial status', () => stream.messages.some((m) => m.event === 'status'));

  await appendEvent(api.db, { labId, kind: 'vm.step.started', message: 'clone started' });
  await appendEvent(api.db, { labId, kind: 'vm.step.finished', message: 'clone done' });
  await appendEvent(api.db, { kind: 'other.lab', message: 'not ours', labId: '00000000-0000-4000-8000-000000000000' });
  await api.db.updateTable('labs').set({ status: 'deploying' }).where('id', '=', labId).execute();
  await waitFor('new events', () => progress(stream.messages).includes('vm.step.finished'));
  await waitFor('status change', () =>
    stream.messages.some((m) => m.event === 'status' && JSON.parse(m.data!).status === 'deploying'),
  );
  await waitFor('keep-alive comment', () => stream.messages.some((m) => m.comment));
  stream.stop();
  await stream.done;
  assert.deepEqual(progress(stream.messages), ['lab.requested', 'vm.step.started', 'vm.step.finished']);
  const ids = stream.messages.filter((m) => m.event === 'progress').map((m) => Number(m.id));
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
    'ids increase',
  );

  const resumed = follow(`/api/v1/labs/${labId}/events`, { 'last-event-id': String(ids[1]) });
  await waitFor(
    'resumed stream',
    () => progress(resumed.messages).length > 0 && resumed.messages.some((m) => m.event === 'status'),
  );
  resumed.stop();
  await resumed.done;
  assert.deepEqual(progress(resumed.messages), ['vm.step.finished']);
});

test('an unknown lab is a 404 before any stream starts', async () => {
  const answer = await api.request('GET', '/api/v1/labs/00000000-0000-4000-8000-000000000000/events');
  assert.equal(answer.status, 404);
  assert.equal(answer.body.error.code, 'not_found');
});
