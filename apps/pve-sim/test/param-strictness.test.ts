/** Parameters outside an endpoint's schema are refused the way PVE's JSONSchema refuses them, form or JSON. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cloneTemplate, startTestSim, type TestSim } from './helpers';

let sim: TestSim;
let root: Record<string, string>;
before(async () => {
  sim = await startTestSim();
  root = await sim.rootAuth();
  assert.equal(await cloneTemplate(sim, 601), 'OK');
});
after(() => sim.stop());

const notInSchema = 'property is not defined in schema and the schema does not allow additional properties';

test('every unknown parameter is named in one 400 Parameter verification failed.', async () => {
  const answer = await sim.api(
    'POST',
    '/cluster/sdn/vnets',
    { vnet: 'gdx', zone: 'z', colour: 'blue', size: '3' },
    root,
  );
  assert.equal(answer.status, 400);
  assert.equal(answer.statusText, 'Parameter verification failed.');
  assert.deepEqual(answer.body?.errors, { colour: notInSchema, size: notInSchema });
});

test('a JSON body is held to the same schema', async () => {
  const res = await fetch(`${sim.running.apiUrl}/api2/json/nodes/pve01/qemu/601/resize`, {
    method: 'PUT',
    headers: { Authorization: sim.tokenAuth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ disk: 'scsi0', size: '+1G', wait: true }),
  });
  assert.equal(res.status, 400);
  assert.deepEqual(((await res.json()) as { errors: unknown }).errors, { wait: notInSchema });
});

test('numbered config keys exist only up to qemu-server 8 limits; newer fixed keys are accepted', async () => {
  const tooMany = await sim.api('PUT', '/nodes/pve01/qemu/601/config', { net32: 'virtio,bridge=vmbr0', scsi31: 'x' });
  assert.deepEqual(tooMany.body?.errors, { net32: notInSchema, scsi31: notInSchema });
  const known = await sim.api('PUT', '/nodes/pve01/qemu/601/config', {
    net31: 'virtio,bridge=vmbr0',
    numa0: 'cpus=0-1,memory=1024',
    smp: '2',
    reboot: '0',
  });
  assert.equal(known.status, 200, known.statusText);
  const parallel = await sim.api('PUT', '/nodes/pve01/qemu/601/config', { parallel0: '/tmp/printer' });
  assert.deepEqual(parallel.body?.errors, { parallel0: 'value does not match the regex pattern' });
  const rootOnly = await sim.api('PUT', '/nodes/pve01/qemu/601/config', { vmgenid: '1' });
  assert.equal(rootOnly.statusText, "only root can set 'vmgenid' config");
});

test('each power action takes only its own parameters', async () => {
  const reboot = await sim.api('POST', '/nodes/pve01/qemu/601/status/reboot', { skiplock: '1' });
  assert.deepEqual(reboot.body?.errors, { skiplock: notInSchema });
  const stop = await sim.api('POST', '/nodes/pve01/qemu/601/status/stop', { forceStop: '1' });
  assert.deepEqual(stop.body?.errors, { forceStop: notInSchema });
  const acl = await sim.api(
    'PUT',
    '/access/acl',
    { path: '/vms/601', roles: 'PVEAuditor', users: 'glassdome@pve', digest: 'abc' },
    root,
  );
  assert.deepEqual(acl.body?.errors, { digest: notInSchema });
});
