import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveOptions } from './options';
import { privilegesOn, requirePrivileges, vmPrivilegeChecker } from './permissions';
import { SeededRandom } from './random';
import { createDefaultState } from './state/defaults';

const state = () => createDefaultState(resolveOptions({ tokenSecret: 's' }), new SeededRandom(1));
const token = { userid: 'glassdome@pve', tokenid: 'deploy' };

test('the deploy token may clone the template but not start it; root may do anything', () => {
  const s = state();
  assert.ok(privilegesOn(s, token, '/vms/9000').has('VM.Clone'));
  assert.ok(!privilegesOn(s, token, '/vms/9000').has('VM.PowerMgmt'));
  assert.ok(privilegesOn(s, token, '/vms/123').has('VM.PowerMgmt'));
  assert.ok(!privilegesOn(s, token, '/vms/123').has('VM.Clone'));
  assert.ok(privilegesOn(s, { userid: 'root@pam' }, '/').has('Permissions.Modify'));
  assert.throws(
    () => requirePrivileges(s, token, '/vms/123', ['VM.Clone']),
    /^PermissionError: Permission check failed \(\/vms\/123, VM.Clone\)$/,
  );
});

test('a privsep token is cut down to its user; a privsep=0 token is its user', () => {
  const s = state();
  s.acl = s.acl.filter((e) => e.type === 'token');
  assert.equal(privilegesOn(s, token, '/vms').size, 0);
  s.users['glassdome@pve']!.tokens.deploy!.privsep = 0;
  assert.equal(privilegesOn(s, token, '/vms').size, 0);
  s.acl.push({ path: '/', type: 'user', ugid: 'glassdome@pve', roleid: 'PVEAuditor', propagate: 1 });
  assert.ok(privilegesOn(s, token, '/vms').has('VM.Audit'));
});

test('groups count when the user has no entry of its own at that level; propagate=0 stops at its path', () => {
  const s = state();
  s.groups.ops = {};
  s.users['glassdome@pve']!.groups.push('ops');
  s.acl.push({ path: '/storage', type: 'group', ugid: 'ops', roleid: 'PVEDatastoreAdmin', propagate: 0 });
  const user = { userid: 'glassdome@pve' };
  assert.ok(privilegesOn(s, user, '/storage').has('Datastore.Allocate'));
  assert.ok(!privilegesOn(s, user, '/storage/local').has('Datastore.Allocate'));
});

test('the list checker agrees with per-VM checks, pools included', () => {
  const s = state();
  s.pools.lab = { vmids: [], storages: [] };
  s.vms[500] = { ...s.vms[9000]!, vmid: 500, pool: 'lab' };
  s.acl.push({
    path: '/pool/lab',
    type: 'token',
    ugid: 'glassdome@pve!deploy',
    roleid: 'PVETemplateUser',
    propagate: 1,
  });
  s.acl.push({ path: '/pool/lab', type: 'user', ugid: 'glassdome@pve', roleid: 'PVETemplateUser', propagate: 1 });
  const mayClone = vmPrivilegeChecker(s, token, ['VM.Clone']);
  assert.equal(mayClone(s.vms[9000]!), true);
  assert.equal(mayClone(s.vms[500]!), true);
  assert.equal(mayClone({ vmid: 123 }), false);
});
