import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { labJobId, VM_DEPLOY_STEPS } from '@glassdome/queue';
import { allJobs, startTestApi, type TestApi } from './harness';

let api: TestApi;
before(async () => {
  api = await startTestApi('labs');
});
after(() => api.close());

const CLASS_LAB = [
  'name: class-101',
  'copies: 2',
  'networks:',
  '  - {name: lan, cidr: 10.20.0.0/24}',
  'vms:',
  '  - {name: target, os: ubuntu-22.04, networks: [lan]}',
  '  - {name: box, os: debian-12, count: 2, networks: [lan], dependsOn: [target]}',
].join('\n');

test('a YAML lab writes the lab, one VM per copy and instance with planned steps, and starts its flow', async () => {
  const answer = await api.request('POST', '/api/v1/labs', { raw: CLASS_LAB, contentType: 'application/yaml' });
  assert.equal(answer.status, 202, answer.text);
  const { id } = answer.body;
  assert.equal(answer.body.status, 'queued');
  assert.equal(answer.headers.get('location'), `/api/v1/labs/${id}`);

  const lab = await api.request('GET', `/api/v1/labs/${id}`);
  assert.equal(lab.body.status, 'queued');
  const vms = lab.body.vms.map((vm: { copy: number; name: string }) => `${vm.copy}:${vm.name}`).sort();
  assert.deepEqual(vms, ['0:box-1', '0:box-2', '0:target', '1:box-1', '1:box-2', '1:target']);
  for (const vm of lab.body.vms) assert.equal(vm.steps.length, VM_DEPLOY_STEPS.length);

  const root = await api.producer.queues.lab.getJob(labJobId(id));
  assert.ok(root, 'the lab root job exists');
  assert.deepEqual(Object.keys(root.data).sort(), ['labId', 'requestId']);
  const network = await api.producer.queues.network.getJob(labJobId(id, 'c0:net:lan'));
  assert.ok(network, 'the tasks without dependencies were added under the root');
  const tasks = (await allJobs(api.producer)).filter((job) => job.data.labId === id && job.data.taskId);
  assert.deepEqual(tasks.map((job) => job.data.taskId).sort(), ['c0:net:lan', 'c1:net:lan']);
});

test('a second active lab with the same name is 409 and writes nothing', async () => {
  const labsBefore = await api.db.selectFrom('labs').select('id').execute();
  const answer = await api.request('POST', '/api/labs/deploy', { raw: CLASS_LAB, contentType: 'application/yaml' });
  assert.equal(answer.status, 409);
  assert.equal((await api.db.selectFrom('labs').select('id').execute()).length, labsBefore.length);
});

test('a catalog lab deploys by id under a new name; GET /labs lists it', async () => {
  const answer = await api.request('POST', '/api/v1/labs', { body: { template: 'web-pentest-101', name: 'team-a' } });
  assert.equal(answer.status, 202, answer.text);
  const list = await api.request('GET', '/api/v1/labs?status=queued');
  assert.ok(list.body.items.some((lab: { name: string }) => lab.name === 'team-a'));
  const catalog = await api.request('GET', '/api/v1/lab-templates');
  assert.ok(catalog.body.items.every((entry: { vmCount: number }) => entry.vmCount > 0));
  assert.ok(catalog.body.items.some((entry: { id: string }) => entry.id === 'web-pentest-101'));
});

test('cancel, retry and delete follow the lab states', async () => {
  const created = await api.request('POST', '/api/v1/labs', { body: { template: 'web-pentest-101', name: 'states' } });
  const id = created.body.id as string;
  assert.equal(
    (await api.request('POST', `/api/v1/labs/${id}/retry`)).status,
    409,
    'a queued lab has nothing to retry',
  );
  assert.deepEqual((await api.request('POST', `/api/v1/labs/${id}/cancel`)).body, {
    id,
    status: 'cancelled',
    vms: 'kept',
  });
  assert.equal((await api.request('POST', `/api/v1/labs/${id}/cancel`)).status, 409);

  await api.db.updateTable('labs').set({ status: 'failed' }).where('id', '=', id).execute();
  const [failedVm] = await api.db
    .updateTable('vms')
    .set({ status: 'failed' })
    .where('lab_id', '=', id)
    .returning('id')
    .execute();
  await api.db
    .updateTable('steps')
    .set({ status: 'failed', error: 'clone timed out' })
    .where('vm_id', '=', failedVm!.id)
    .where('name', '=', 'clone')
    .execute();
  const retry = await api.request('POST', `/api/v1/labs/${id}/retry`);
  assert.equal(retry.status, 202);
  assert.equal(retry.body.status, 'deploying');
  const lab = await api.request('GET', `/api/v1/labs/${id}`);
  assert.equal(lab.body.status, 'deploying');
  assert.ok(lab.body.vms.every((vm: { status: string }) => vm.status === 'queued'));
  const steps = lab.body.vms.flatMap((vm: { steps: { name: string; status: string; error?: string }[] }) => vm.steps);
  assert.ok(steps.every((step: { status: string }) => step.status === 'pending'));
  // The failed step keeps its error until it is tried again: the next attempt acts on why it failed.
  const clone = lab.body.vms
    .find((vm: { id: string }) => vm.id === failedVm!.id)
    .steps.find((step: { name: string }) => step.name === 'clone');
  assert.equal(clone.error, 'clone timed out');

  // Every DELETE is a fresh tear-down job (tear-down is idempotent), so asking again after one failed for good works.
  const jobIds: string[] = [];
  for (let i = 0; i < 2; i++) {
    const deleted = await api.request('DELETE', `/api/v1/labs/${id}`);
    assert.equal(deleted.status, 202);
    assert.equal(deleted.body.status, 'destroying');
    assert.match(deleted.body.jobId, new RegExp(`^lab-destroy\\.${id}\\.\\d+$`));
    jobIds.push(deleted.body.jobId);
  }
  assert.notEqual(jobIds[0], jobIds[1]);
  const destroyJobs = (await allJobs(api.producer)).filter((job) => job.name === 'lab.destroy');
  assert.deepEqual(destroyJobs.map((job) => job.id).sort(), [...jobIds].sort());
  assert.equal((await api.request('DELETE', '/api/v1/labs/00000000-0000-4000-8000-000000000000')).status, 404);
});
