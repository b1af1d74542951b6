/**
 * A VM as the API shows it is written once (Postgres writes its JSON text, `shownVmText` in
 * packages/db): `GET /vms`, `GET /vms/:id` and `GET /labs/:id` give the same item, field for field
 * and in the same order; sizes missing from a spec are left out; `access` names the guests' SSH port
 * and the login user only when the VM has an address; a lab VM lists its lab addresses. Its error
 * and its steps' errors quoting provisioning text are masked for a reader other than its creator
 * and admins, and no provisioning text of the spec reaches that reader at all.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApi, type TestApi } from './harness';

const COMMAND = "echo 'hunter2-password' > /etc/app.conf";
const RUN = 'apt-get install -y internal-agent-pkg';
const QUOTED = `cloud-init failed: ${COMMAND} exited 1`;
const STEP_QUOTED = `provision failed: ${RUN} exited 100`;
const MASK = '[provisioning text hidden]';
const FIELDS = [
  'id',
  'name',
  'project',
  'os',
  'status',
  'labId',
  'copy',
  'node',
  'vmid',
  'ip',
  'access',
  'addresses',
  'cpus',
  'memoryMiB',
  'diskGiB',
  'desiredState',
  'observedStatus',
  'observedAt',
  'error',
  'createdAt',
  'updatedAt',
  'steps',
];

let api: TestApi;
let creator: string;
let vmId: string;
let bareId: string;
let labId: string;

before(async () => {
  api = await startTestApi('vms-shown', { deps: { terminal: { guestKey: undefined, guestSshPort: 2222 } } });
  creator = await api.keyWithRole('operator');
  const { id: creatorId } = await api.db
    .selectFrom('api_keys')
    .select('id')
    .where('name', '=', `operator-${creator.slice(3, 9)}`)
    .executeTakeFirstOrThrow();
  const spec = {
    os: 'ubuntu-22.04',
    cpus: 2,
    memoryMiB: 2048,
    diskGiB: 20,
    cloudInit: { user: 'ops', sshKeys: [], packages: [], runcmd: [COMMAND] },
    provision: [{ run: RUN }],
  };
  const [vm] = await api.db
    .insertInto('vms')
    .values({
      name: 'shown',
      os: 'ubuntu-22.04',
      platform_id: 'p',
      node: 'pve01',
      status: 'failed',
      vmid: 105,
      ip: '10.0.0.9',
      error: QUOTED,
      spec: JSON.stringify(spec),
      created_by: creatorId,
    })
    .returning('id')
    .execute();
  vmId = vm!.id;
  await api.db
    .insertInto('steps')
    .values([
      { vm_id: vmId, name: 'clone', status: 'done', attempts: 1 },
      { vm_id: vmId, name: 'provision', status: 'failed', attempts: 1, error: STEP_QUOTED },
    ])
    .execute();
  const [bare] = await api.db
    .insertInto('vms')
    .values({
      name: 'bare',
      os: 'debian-12',
      platform_id: 'p',
      node: 'pve01',
      status: 'queued',
      spec: JSON.stringify({ cloudInit: { user: 'ops' } }),
      planned_steps: JSON.stringify(['reserve-vmid', 'clone']),
    })
    .returning('id')
    .execute();
  bareId = bare!.id;
  const [lab] = await api.db
    .insertInto('labs')
    .values({
      name: 'lab',
      platform_id: 'p',
      status: 'ready',
      spec: JSON.stringify({ vms: [{ name: 'web' }] }),
      graph: '{}',
      on_failure: 'keep',
      copies: 1,
    })
    .returning('id')
    .execute();
  labId = lab!.id;
  await api.db
    .insertInto('vms')
    .values({
      name: 'web-1',
      lab_id: labId,
      copy: 1,
      os: 'debian-12',
      platform_id: 'p',
      node: 'pve02',
      status: 'ready',
      ip: '10.1.0.7',
      spec: JSON.stringify({
        cpus: 1,
        memoryMiB: 512,
        diskGiB: 8,
        cloudInit: { user: 'student', sshKeys: [], packages: [], runcmd: [] },
        provision: [],
        networks: [{ name: 'lan', ip: '10.10.0.5/24', gateway: '10.10.0.1' }, { name: 'dmz' }],
      }),
    })
    .execute();
});

after(() => api.close());

async function read(path: string, key?: string) {
  const answer = await api.request('GET', path, key ? { key } : {});
  assert.equal(answer.status, 200, answer.text);
  return answer;
}

test('the list, the VM and the lab show a VM alike: its fields in order, access, addresses, sizes', async () => {
  const vm = (await read(`/api/v1/vms/${vmId}`)).body;
  assert.deepEqual(Object.keys(vm), FIELDS);
  const { createdAt, updatedAt, steps, ...rest } = vm;
  assert.deepEqual(rest, {
    id: vmId,
    name: 'shown',
    project: 'default',
    os: 'ubuntu-22.04',
    status: 'failed',
    labId: null,
    copy: null,
    node: 'pve01',
    vmid: 105,
    ip: '10.0.0.9',
    access: { host: '10.0.0.9', port: 2222, user: 'ops' },
    addresses: [],
    cpus: 2,
    memoryMiB: 2048,
    diskGiB: 20,
    desiredState: 'running',
    observedStatus: null,
    observedAt: null,
    error: QUOTED,
  });
  assert.match(createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(updatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(
    steps.map((step: { name: string; error?: string }) => [step.name, step.error]),
    [
      ['clone', undefined],
      ['provision', STEP_QUOTED],
    ],
  );

  const list = await read('/api/v1/vms');
  const bare = list.body.items.find((item: { id: string }) => item.id === bareId);
  // No sizes in its spec, no address: neither is made up.
  assert.deepEqual(
    Object.keys(bare),
    FIELDS.filter((field) => !['cpus', 'memoryMiB', 'diskGiB'].includes(field)),
  );
  assert.equal(bare.access, null);
  assert.deepEqual(
    bare.steps.map((step: { name: string; status: string }) => [step.name, step.status]),
    [
      ['reserve-vmid', 'pending'],
      ['clone', 'pending'],
    ],
  );
  // The list's item is the VM's answer, byte for byte.
  const itemText = JSON.stringify(list.body.items.find((item: { id: string }) => item.id === vmId));
  assert.equal(itemText, (await read(`/api/v1/vms/${vmId}`)).text);

  const labVm = (await read(`/api/v1/labs/${labId}`)).body.vms[0];
  assert.deepEqual(Object.keys(labVm), FIELDS);
  assert.deepEqual(labVm.addresses, [
    { network: 'lan', address: '10.10.0.5/24' },
    { network: 'dmz', address: null },
  ]);
  assert.deepEqual(labVm.access, { host: '10.1.0.7', port: 2222, user: 'student' });
  assert.deepEqual([labVm.labId, labVm.copy, labVm.cpus, labVm.memoryMiB, labVm.diskGiB], [labId, 1, 1, 512, 8]);
});

test("a VM's error and its steps' errors are masked for a viewer, whole for its creator and admins", async () => {
  const viewer = await api.keyWithRole('viewer');
  const admin = (await read(`/api/v1/vms/${vmId}`)).text;
  assert.equal((await read(`/api/v1/vms/${vmId}`, creator)).text, admin);

  const seen = await read(`/api/v1/vms/${vmId}`, viewer);
  assert.equal(seen.body.error, `cloud-init failed: ${MASK} exited 1`);
  assert.equal(seen.body.steps[1].error, `provision failed: ${MASK} exited 100`);
  // Everything else as the admin sees it.
  const masked = JSON.parse(admin);
  masked.error = seen.body.error;
  masked.steps[1].error = seen.body.steps[1].error;
  assert.equal(seen.text, JSON.stringify(masked));

  const listed = await read('/api/v1/vms', viewer);
  assert.equal(JSON.stringify(listed.body.items.find((item: { id: string }) => item.id === vmId)), seen.text);
  for (const text of [seen.text, listed.text]) {
    for (const secret of ['hunter2-password', COMMAND, RUN, 'internal-agent-pkg']) {
      assert.ok(!text.includes(secret), `a viewer's answer holds ${secret}`);
    }
  }
  const creatorList = await read('/api/v1/vms', creator);
  assert.equal(
    JSON.stringify(creatorList.body.items.find((item: { id: string }) => item.id === vmId)),
    admin,
    'its creator sees the list item whole',
  );
});
