/**
 * A failed template no longer blocks its OS forever: it can be built again (a fresh job each time)
 * or deleted, after which a new build may be requested. Anything but a failed template is refused.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApi, type TestApi } from './harness';

let api: TestApi;
before(async () => {
  api = await startTestApi('tplrecovery');
});
after(() => api.close());

async function failedTemplate(os: string): Promise<string> {
  const created = await api.request('POST', '/api/v1/templates', { body: { os } });
  assert.equal(created.status, 202, created.text);
  await api.db
    .updateTable('templates')
    .set({ status: 'failed', error: 'VM 9001 exists and is not a template' })
    .where('id', '=', created.body.id)
    .execute();
  return created.body.id;
}

test('a failed template is queued again as a new job; a second retry while queued is 409', async () => {
  const id = await failedTemplate('ubuntu-24.04');
  const retried = await api.request('POST', `/api/v1/templates/${id}/retry`);
  assert.equal(retried.status, 202, retried.text);
  assert.equal(retried.body.status, 'queued');
  assert.notEqual(retried.body.jobId, `template-create.${id}`, 'not the failed job id, which BullMQ would ignore');
  const job = await api.producer.queues.template.getJob(retried.body.jobId);
  assert.equal(job?.name, 'template.create');
  assert.equal(job?.data.templateId, id);
  const row = await api.db.selectFrom('templates').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  assert.equal(row.status, 'queued');
  assert.equal(row.error, null);

  const again = await api.request('POST', `/api/v1/templates/${id}/retry`);
  assert.equal(again.status, 409);
  assert.equal(again.body.error.details.status, 'queued');
});

test('a failed template can be deleted, and the OS built again; others cannot be deleted', async () => {
  const id = await failedTemplate('debian-12');
  const blocked = await api.request('POST', '/api/v1/templates', { body: { os: 'debian-12' } });
  assert.equal(blocked.status, 409, 'the failed row still holds the OS');

  const deleted = await api.request('DELETE', `/api/v1/templates/${id}`);
  assert.equal(deleted.status, 204, deleted.text);
  const rebuilt = await api.request('POST', '/api/v1/templates', { body: { os: 'debian-12' } });
  assert.equal(rebuilt.status, 202, rebuilt.text);

  const queued = await api.request('DELETE', `/api/v1/templates/${rebuilt.body.id}`);
  assert.equal(queued.status, 409);
  assert.match(queued.body.error.message, /only a failed template/);
  assert.equal((await api.request('DELETE', '/api/v1/templates/00000000-0000-4000-8000-000000000000')).status, 404);
  assert.equal((await api.request('POST', '/api/v1/templates/not-a-uuid/retry')).status, 400);
});
