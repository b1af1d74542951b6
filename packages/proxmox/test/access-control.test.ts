/** Roles, users, tokens, ACLs and pools as the gateway uses them, through a root ticket session. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AlreadyExistsError, createProxmox, PermissionError, type Proxmox } from '../src/index';
import { type RunningSim, startSim } from './sim';

let sim: RunningSim;
let root: Proxmox;

before(async () => {
  sim = await startSim();
  root = createProxmox(sim.config({ auth: { username: 'root@pam', password: sim.info.rootPassword } }));
});

after(async () => {
  root?.close();
  await sim?.stop();
});

test('a least-privilege grant lets a token read exactly what it was granted; revoking takes it back', async () => {
  await root.access.createRole('LabViewer', ['VM.Audit']);
  assert.deepEqual((await root.access.roles()).find((role) => role.roleid === 'LabViewer')?.privs, ['VM.Audit']);
  await assert.rejects(root.access.createRole('LabViewer', ['VM.Audit']), AlreadyExistsError);

  await root.access.createUser('viewer@pve');
  const token = await root.access.createToken('viewer@pve', 'ro', { privsep: false });
  const viewer = createProxmox(sim.config({ auth: { tokenId: token.fullTokenId, tokenSecret: token.value } }));
  const template = sim.info.templateVmid;
  try {
    await assert.rejects(viewer.vms.config(template), PermissionError);

    const grant = { path: `/vms/${template}`, roles: ['LabViewer'], users: ['viewer@pve'], propagate: false };
    await root.access.grant(grant);
    const entry = (await root.access.acl()).find((acl) => acl.ugid === 'viewer@pve');
    assert.deepEqual(entry, {
      path: `/vms/${template}`,
      type: 'user',
      ugid: 'viewer@pve',
      roleid: 'LabViewer',
      propagate: false,
    });
    assert.equal((await viewer.vms.config(template)).template, true);
    await root.waitForTask(await root.vms.clone({ sourceVmid: template, newid: 4300, name: 'other', full: false }));
    await assert.rejects(viewer.vms.config(4300), PermissionError, 'nothing beyond the granted path');

    await root.access.revoke(grant);
    await assert.rejects(viewer.vms.config(template), PermissionError);
  } finally {
    viewer.close();
  }
  await root.access.deleteToken('viewer@pve', 'ro');
  assert.deepEqual(await root.access.tokens('viewer@pve'), []);
  await root.access.deleteUser('viewer@pve');
  assert.ok(!(await root.access.users()).some((user) => user.userid === 'viewer@pve'));
});

test('pools: create, list, delete', async () => {
  await root.access.createPool('lab-pool-1', 'a lab');
  assert.deepEqual(
    (await root.access.pools()).filter((pool) => pool.poolid === 'lab-pool-1'),
    [{ poolid: 'lab-pool-1', comment: 'a lab' }],
  );
  await root.access.deletePool('lab-pool-1');
  assert.ok(!(await root.access.pools()).some((pool) => pool.poolid === 'lab-pool-1'));
});

test('cluster views: nodes, storages, bridges, resources, nextid', async () => {
  const [node] = await root.cluster.nodes();
  assert.equal(node?.node, sim.info.node);
  assert.equal(node?.online, true);
  const storages = await root.cluster.storages();
  assert.ok(storages.some((storage) => storage.storage === sim.info.storage && storage.content.includes('images')));
  const bridges = await root.cluster.networks(sim.info.node, 'bridge');
  assert.ok(bridges.some((bridge) => bridge.iface === sim.info.bridge));
  const resources = await root.cluster.resources('vm');
  assert.ok(resources.some((resource) => resource.vmid === sim.info.templateVmid));
  const next = await root.cluster.nextId();
  assert.ok(Number.isInteger(next) && next >= 100);
});
