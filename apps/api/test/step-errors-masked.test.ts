/**
 * Steps come as Postgres writes them (JSON text the API does not parse on its way out), yet an
 * error quoting provisioning text is still masked for a reader who did not create the VM or lab:
 * in GET /vms, GET /vms/:id and GET /labs/:id (its VMs' steps and its own), while an admin sees it
 * whole and every other field of every step is the same for both.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApi, type TestApi } from './harness';

const COMMAND = 'echo secret-token-123';
const QUOTED = `command failed: ${COMMAND} exited 1`;
const MASKED = 'command failed: [provisioning text hidden] exited 1';

let api: TestApi;
let vmId: string;
let labId: string;

before(async () => {
  api = await startTestApi('step-errors-masked');
  const cloudInit = { user: 'ops', runcmd: [COMMAND] };
  const [vm] = await api.db
    .insertInto('vms')
    .values({
      name: 'standalone',
      os: 'ubuntu-22.04',
      platform_id: 'p',
      node: 'pve01',
      status: 'failed',
      spec: JSON.stringify({ cpus: 1, cloudInit }),
    })
    .returning('id')
    .execute();
  vmId = vm!.id;
  const [lab] = await api.db
    .insertInto('labs')
    .values({
      name: 'lab',
      platform_id: 'p',
      status: 'failed',
      spec: JSON.stringify({ vms: [{ name: 'web', cloudInit }] }),
      graph: '{}',
      on_failure: 'keep',
      copies: 1,
    })
    .returning('id')
    .execute();
  labId = lab!.id;
  const [labVm] = await api.db
    .insertInto('vms')
    .values({
      name: 'web',
      lab_id: labId,
      copy: 1,
      os: 'ubuntu-22.04',
      platform_id: 'p',
      node: 'pve01',
      status: 'failed',
      spec: JSON.stringify({ cloudInit }),
    })
    .returning('id')
    .execute();
  const steps = (owner: { vm_id?: string; lab_id?: string }) => [
    { ...owner, name: 'clone', status: 'done', attempts: 1, error: '' },
    { ...owner, name: 'provision', status: 'failed', attempts: 2, error: QUOTED },
    { ...owner, name: 'start', status: 'skipped', attempts: 0, error: 'not started' },
  ];
  await api.db
    .insertInto('steps')
    .values([...steps({ vm_id: vmId }), ...steps({ vm_id: labVm!.id, lab_id: labId }), ...steps({ lab_id: labId })])
    .execute();
});

after(() => api.close());

type Step = Record<string, unknown>;

/** The steps of an answer with the errors an admin sees replaced by `error` where they quote the command. */
const withError = (steps: Step[], error: string) =>
  steps.map((step) => (step.error === QUOTED ? { ...step, error } : step));

test('a step error quoting a command is masked for a viewer in the VM list, the VM and the lab; an admin sees it', async () => {
  const viewer = await api.keyWithRole('viewer');
  const read = async (path: string, key?: string) => {
    const answer = await api.request('GET', path, key ? { key } : {});
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/json; charset=utf-8$/);
    return answer.body;
  };

  const adminVm = await read(`/api/v1/vms/${vmId}`);
  assert.deepEqual(
    adminVm.steps.map((step: Step) => [step.name, step.status, step.attempts, step.error]),
    [
      ['clone', 'done', 1, undefined],
      ['provision', 'failed', 2, QUOTED],
      ['start', 'skipped', 0, 'not started'],
    ],
  );
  // An empty error is no error, and a step never started has no duration.
  assert.deepEqual(Object.keys(adminVm.steps[0]), [
    'name',
    'status',
    'attempts',
    'queuedAt',
    'startedAt',
    'finishedAt',
  ]);
  const viewerVm = await read(`/api/v1/vms/${vmId}`, viewer);
  assert.deepEqual(viewerVm.steps, withError(adminVm.steps, MASKED));
  const viewerList = await read('/api/v1/vms', viewer);
  assert.deepEqual(viewerList.items[0].steps, viewerVm.steps);
  assert.deepEqual((await read('/api/v1/vms')).items[0].steps, adminVm.steps);

  const adminLab = await read(`/api/v1/labs/${labId}`);
  const viewerLab = await read(`/api/v1/labs/${labId}`, viewer);
  assert.equal(adminLab.steps.length, 3);
  assert.equal(adminLab.steps[1].error, QUOTED);
  assert.deepEqual(viewerLab.steps, withError(adminLab.steps, MASKED));
  assert.equal(adminLab.vms[0].steps[1].error, QUOTED);
  assert.deepEqual(viewerLab.vms[0].steps, withError(adminLab.vms[0].steps, MASKED));
});
