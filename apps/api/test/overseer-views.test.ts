import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appendEvent, planVmSteps } from '@glassdome/db';
import { allRelayed, startTestApi, type TestApi } from './harness';

let api: TestApi;
before(async () => {
  api = await startTestApi('overseer');
  await api.db
    .insertInto('alerts')
    .values([
      { dedup_key: 'a', kind: 'vm.drift', severity: 'critical', subject: 'vm/1', message: 'VM stopped', state: 'open' },
      { dedup_key: 'b', kind: 'vm.drift', severity: 'warning', subject: 'vm/2', message: 'no IP', state: 'open' },
      { dedup_key: 'c', kind: 'orphan', severity: 'warning', subject: 'vm/3', message: 'orphan', state: 'resolved' },
    ])
    .execute();
  await appendEvent(api.db, { kind: 'remediation.start-vm', message: 'started vm/1' });
  await appendEvent(api.db, { kind: 'remediationx', message: 'not a remediation' });
});
after(() => api.close());

test('GET /alerts filters by state and severity', async () => {
  assert.equal((await api.request('GET', '/api/v1/alerts')).body.items.length, 3);
  const open = await api.request('GET', '/api/v1/alerts?state=open&severity=warning');
  assert.deepEqual(
    open.body.items.map((alert: { dedup_key: string }) => alert.dedup_key),
    ['b'],
  );
  assert.equal((await api.request('GET', '/api/v1/alerts?severity=apocalyptic')).status, 400);
});

test('POST /alerts/:id/ack acknowledges an open alert once, naming the key; 404 unknown, 409 not open', async () => {
  const [critical] = (await api.request('GET', '/api/v1/alerts?severity=critical')).body.items;
  const acked = await api.request('POST', `/api/v1/alerts/${critical.id}/ack`);
  assert.equal(acked.status, 200);
  assert.equal(acked.body.state, 'acknowledged');
  assert.equal(acked.body.acknowledged_by, 'bootstrap-admin');
  assert.equal((await api.request('POST', `/api/v1/alerts/${critical.id}/ack`)).status, 409);
  assert.equal((await api.request('POST', '/api/v1/alerts/00000000-0000-4000-8000-000000000000/ack')).status, 404);
});

test('the report counts labs, VMs and open alerts, and lists remediations of the last 24 hours', async () => {
  await api.request('POST', '/api/v1/vms', { body: { name: 'web-01', os: 'kali' } });
  const report = await api.request('GET', '/api/v1/overseer/report');
  assert.equal(report.status, 200);
  assert.deepEqual(report.body.vmsByStatus, { queued: 1 });
  assert.deepEqual(report.body.openAlertsBySeverity, { critical: 1, warning: 1 });
  assert.deepEqual(
    report.body.remediations.map((event: { kind: string }) => event.kind),
    ['remediation.start-vm'],
  );
  const inventory = await api.request('GET', '/api/v1/inventory');
  assert.deepEqual(
    inventory.body.vms.map((vm: { name: string; observedStatus: null }) => [vm.name, vm.observedStatus]),
    [['web-01', null]],
  );
});

test('/metrics exposes HTTP latency, queue depths, VM states and step durations', async () => {
  // As the installer would: it writes the deploy's step rows from the plan when it takes the job.
  for (const { id } of await api.db.selectFrom('vms').select('id').execute()) await planVmSteps(api.db, id);
  await api.db
    .updateTable('steps')
    .set({ status: 'done', started_at: new Date(Date.now() - 1500), finished_at: new Date() })
    .where('name', '=', 'clone')
    .execute();
  // The deploy above was answered at its commit; its job is in BullMQ once the outbox is empty.
  await allRelayed(api.db);
  const metrics = await api.request('GET', '/metrics', { key: null });
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get('content-type')!, /text\/plain/);
  assert.match(metrics.text, /glassdome_http_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/vms"/);
  assert.match(metrics.text, /glassdome_queue_jobs\{queue="vm",state="waiting"\} 1/);
  assert.match(metrics.text, /glassdome_vms\{status="queued"\} 1/);
  assert.match(metrics.text, /glassdome_step_duration_seconds_count\{step="clone",status="done"\} 1/);
  assert.match(metrics.text, /glassdome_step_duration_seconds_sum\{step="clone",status="done"\} 1\.5/);
});
