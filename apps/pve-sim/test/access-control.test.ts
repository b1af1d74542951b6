/** Tickets, CSRF, users, tokens with privilege separation, roles and ACL propagation. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestSim, type TestSim } from './helpers';

let sim: TestSim;
let root: Record<string, string>;
before(async () => {
  sim = await startTestSim();
  root = await sim.rootAuth();
});
after(() => sim.stop());

test('a ticket login returns ticket, CSRF token and capabilities; a wrong password is a 401', async () => {
  const ok = await sim.api(
    'POST',
    '/access/ticket',
    { username: 'root', realm: 'pam', password: 'root-secret-pw' },
    {},
  );
  const data = ok.body?.data as {
    username: string;
    ticket: string;
    CSRFPreventionToken: string;
    cap: { vms: Record<string, number> };
  };
  assert.equal(data.username, 'root@pam');
  assert.match(data.ticket, /^PVE:root@pam:[0-9A-F]{8}::.+$/);
  assert.match(data.CSRFPreventionToken, /^[0-9A-F]{8}:.+$/);
  assert.equal(data.cap.vms['VM.Clone'], 1);
  const bad = await sim.api('POST', '/access/ticket', { username: 'root@pam', password: 'wrong' }, {});
  assert.equal(bad.status, 401);
  assert.equal(bad.statusText, 'authentication failure');
  const renewed = await sim.api('POST', '/access/ticket', { username: 'root@pam', password: data.ticket }, {});
  assert.equal(renewed.status, 200);
});

test('ticket writes need the CSRF header; GETs do not', async () => {
  const cookieOnly = { Cookie: root.Cookie! };
  assert.equal((await sim.api('GET', '/version', {}, cookieOnly)).status, 200);
  const write = await sim.api('POST', '/pools', { poolid: 'nocsrf' }, cookieOnly);
  assert.equal(write.status, 401);
  assert.equal(write.statusText, 'Permission denied - invalid csrf token');
  assert.equal(write.text, '');
  assert.equal((await sim.api('POST', '/pools', { poolid: 'withcsrf' }, root)).status, 200);
});

test('API tokens cannot ask for tickets', async () => {
  const answer = await sim.api('POST', '/access/ticket', { username: 'root@pam', password: 'x' });
  assert.equal(answer.status, 403);
  assert.equal(
    answer.statusText,
    "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.)",
  );
});

test('a privilege-separated token gets the intersection of its own and its user ACLs', async () => {
  assert.equal(
    (await sim.api('POST', '/access/users', { userid: 'alice@pve', password: 'alicepw123' }, root)).status,
    200,
  );
  const dup = await sim.api('POST', '/access/users', { userid: 'alice@pve' }, root);
  assert.equal(dup.statusText, "create user failed: user 'alice@pve' already exists");
  const created = await sim.api('POST', '/access/users/alice@pve/token/ci', {}, root);
  const token = created.body?.data as { 'full-tokenid': string; info: { privsep: string }; value: string };
  assert.equal(token['full-tokenid'], 'alice@pve!ci');
  assert.deepEqual(token.info, { privsep: '1' });
  const dupToken = await sim.api('POST', '/access/users/alice@pve/token/ci', {}, root);
  assert.deepEqual(dupToken.body?.errors, { tokenid: 'Token already exists.' });
  const auth = `PVEAPIToken=alice@pve!ci=${token.value}`;
  const visible = async () => ((await sim.api('GET', '/nodes/pve01/qemu', {}, auth)).body!.data as unknown[]).length;
  assert.equal(await visible(), 0, 'lists filter silently instead of 403');
  await sim.api('PUT', '/access/acl', { path: '/vms', roles: 'PVEAuditor', users: 'alice@pve' }, root);
  assert.equal(await visible(), 0, 'the user alone is not enough for a privsep token');
  await sim.api('PUT', '/access/acl', { path: '/vms', roles: 'PVEAuditor', tokens: 'alice@pve!ci' }, root);
  assert.equal(await visible(), 1);
  const forbidden = await sim.api('GET', '/nodes/pve01/status', {}, auth);
  assert.equal(forbidden.statusText, 'Permission check failed (/nodes/pve01, Sys.Audit)');
});

test('propagate=0 grants only the path itself; deeper grants replace inherited roles', async () => {
  await sim.api('POST', '/access/users', { userid: 'bob@pve', password: 'bobpw12345' }, root);
  const bobTicket = (await sim.api('POST', '/access/ticket', { username: 'bob@pve', password: 'bobpw12345' }, {})).body
    ?.data as {
    ticket: string;
  };
  const bob = { Cookie: `PVEAuthCookie=${encodeURIComponent(bobTicket.ticket)}` };
  await sim.api('PUT', '/access/acl', { path: '/vms', roles: 'PVEVMAdmin', users: 'bob@pve', propagate: '0' }, root);
  const perms = async (path: string) =>
    (await sim.api('GET', '/access/permissions', { path }, bob)).body?.data as Record<string, Record<string, number>>;
  assert.equal((await perms('/vms'))['/vms']!['VM.Allocate'], 1);
  assert.deepEqual((await perms('/vms/9000'))['/vms/9000'], {});
  await sim.api('PUT', '/access/acl', { path: '/', roles: 'PVEAuditor', users: 'bob@pve' }, root);
  await sim.api('PUT', '/access/acl', { path: '/vms/9000', roles: 'NoAccess', users: 'bob@pve' }, root);
  assert.deepEqual((await perms('/vms/9000'))['/vms/9000'], {});
  assert.equal((await perms('/vms/100'))['/vms/100']!['VM.Audit'], 1);
});

test('ACL and role errors use PVE texts', async () => {
  const none = await sim.api('PUT', '/access/acl', { path: '/vms', roles: 'PVEAuditor' }, root);
  const message = "either 'users', 'groups' or 'tokens' is required.";
  assert.deepEqual(none.body?.errors, { users: message, groups: message, tokens: message });
  const path = await sim.api('PUT', '/access/acl', { path: '/foo', roles: 'PVEAuditor', users: 'root@pam' }, root);
  assert.deepEqual(path.body?.errors, { path: "invalid ACL path '/foo'" });
  const role = await sim.api('PUT', '/access/acl', { path: '/vms', roles: 'Nope', users: 'root@pam' }, root);
  assert.equal(role.statusText, "ACL update failed: role 'Nope' does not exist");
  const tokenMissing = await sim.api(
    'PUT',
    '/access/acl',
    { path: '/vms', roles: 'PVEAuditor', tokens: 'root@pam!nope' },
    root,
  );
  assert.equal(tokenMissing.statusText, "ACL update failed: no such token 'nope' for user 'root@pam'");
  const pveRole = await sim.api('POST', '/access/roles', { roleid: 'PVEMine' }, root);
  assert.equal(pveRole.status, 400);
  const badPriv = await sim.api('POST', '/access/roles', { roleid: 'Mine', privs: 'VM.GuestAgent.Audit' }, root);
  assert.equal(badPriv.statusText, "create role failed: invalid privilege 'VM.GuestAgent.Audit'");
  assert.equal(
    (await sim.api('POST', '/access/roles', { roleid: 'Mine', privs: 'VM.Audit,VM.Clone' }, root)).status,
    200,
  );
  const acl = (await sim.api('GET', '/access/acl', {}, root)).body?.data as Array<Record<string, unknown>>;
  assert.ok(
    acl.some(
      (e) => e.ugid === 'glassdome@pve!deploy' && e.type === 'token' && e.path === '/vms/9000' && e.propagate === 1,
    ),
  );
});

test('the deploy token has no rights beyond deploying', async () => {
  const users = await sim.api('POST', '/access/users', { userid: 'eve@pve' });
  assert.equal(users.status, 403);
  const acl = await sim.api('PUT', '/access/acl', {
    path: '/',
    roles: 'Administrator',
    tokens: 'glassdome@pve!deploy',
  });
  assert.equal(acl.statusText, 'Permission check failed (/, Permissions.Modify)');
});

test('a disabled user or an expired token authenticates no more', async () => {
  await sim.api('POST', '/access/users', { userid: 'carol@pve' }, root);
  const created = (await sim.api('POST', '/access/users/carol@pve/token/t1', { privsep: '0' }, root)).body?.data as {
    value: string;
  };
  const auth = `PVEAPIToken=carol@pve!t1=${created.value}`;
  assert.equal((await sim.api('GET', '/version', {}, auth)).status, 200);
  await sim.api('PUT', '/access/users/carol@pve', { enable: '0' }, root);
  assert.equal((await sim.api('GET', '/version', {}, auth)).statusText, 'Authentication failed!');
  await sim.api('PUT', '/access/users/carol@pve', { enable: '1' }, root);
  await sim.api('PUT', '/access/users/carol@pve/token/t1', { expire: '1000' }, root);
  assert.equal((await sim.api('GET', '/version', {}, auth)).status, 401);
  await sim.api('DELETE', '/access/users/carol@pve/token/t1', {}, root);
  const tokens = (await sim.api('GET', '/access/users/carol@pve/token', {}, root)).body?.data as unknown[];
  assert.deepEqual(tokens, []);
});
