import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planGrants } from './bootstrap';
import { glassdomeAcls } from './privileges';

const grants = glassdomeAcls({ node: 'pve01', storage: 'local-lvm', bridge: 'vmbr0' });
const TOKEN = 'glassdome@pve!deploy';

test('on a bare cluster every role is created and granted to the user and to the token', () => {
  const changes = planGrants({ users: [], tokens: [], roles: {}, acl: [] }, TOKEN, grants);
  assert.equal(changes.length, grants.length * 3);
  assert.deepEqual(changes[0]!.argv.slice(0, 4), ['pveum', 'role', 'add', 'GlassdomeVMs']);
  assert.deepEqual(changes[1]!.argv, [
    'pveum',
    'acl',
    'modify',
    '/vms',
    '--users',
    'glassdome@pve',
    '--roles',
    'GlassdomeVMs',
  ]);
  assert.deepEqual(changes[2]!.argv, ['pveum', 'acl', 'modify', '/vms', '--tokens', TOKEN, '--roles', 'GlassdomeVMs']);
});

test('what is in place is left alone; a role holding more (or less) is set back to exactly its list', () => {
  const roles = Object.fromEntries(grants.map((grant) => [grant.role, [...grant.privs].reverse()]));
  roles.GlassdomeNode = ['Sys.Audit', 'Sys.Modify'];
  const acl = grants.flatMap((grant) => [
    { path: grant.path, type: 'user', ugid: 'glassdome@pve', roleid: grant.role },
    { path: grant.path, type: 'token', ugid: TOKEN, roleid: grant.role },
  ]);
  const changes = planGrants({ users: ['glassdome@pve'], tokens: ['deploy'], roles, acl }, TOKEN, grants);
  assert.deepEqual(
    changes.map((change) => change.argv),
    [['pveum', 'role', 'modify', 'GlassdomeNode', '--privs', 'Sys.Audit']],
  );
  assert.equal(changes[0]!.says, 'set role GlassdomeNode to exactly Sys.Audit (it held Sys.Audit, Sys.Modify)');
});

test('an ACL of another role or on another path does not count', () => {
  const acl = [
    { path: '/vms/9000', type: 'token', ugid: TOKEN, roleid: 'GlassdomeVMs' },
    { path: '/vms', type: 'token', ugid: TOKEN, roleid: 'PVEVMAdmin' },
  ];
  const roles = Object.fromEntries(grants.map((grant) => [grant.role, grant.privs]));
  const changes = planGrants({ users: [], tokens: [], roles, acl }, TOKEN, grants.slice(0, 1));
  assert.deepEqual(
    changes.map((change) => change.says),
    ['granted GlassdomeVMs on /vms to user glassdome@pve', `granted GlassdomeVMs on /vms to token ${TOKEN}`],
  );
});
