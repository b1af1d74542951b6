/** The Proxmox firewall API: options, rules, security groups, IPSets, aliases, refs, digests, permissions. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cloneTemplate, startTestSim, type TestSim } from './helpers';

let sim: TestSim;
let root: Record<string, string>;
const vmRules = '/nodes/pve01/qemu/201/firewall/rules';

type Row = Record<string, unknown>;
const rows = (answer: { body?: { data?: unknown } }) => answer.body?.data as Row[];
const row = (answer: { body?: { data?: unknown } }) => (answer.body?.data ?? {}) as Row;

before(async () => {
  sim = await startTestSim();
  root = await sim.rootAuth();
  assert.equal(await cloneTemplate(sim, 201, { name: 'fw-201' }), 'OK');
});
after(() => sim.stop());

test('a fresh cluster has the firewall off: empty options with a digest; enabling needs Sys.Modify on /', async () => {
  const index = await sim.api('GET', '/cluster/firewall');
  assert.deepEqual(
    rows(index).map((row) => row.name),
    ['aliases', 'rules', 'options', 'groups', 'ipset', 'macros', 'refs'],
  );
  const options = await sim.api('GET', '/cluster/firewall/options', {}, root);
  assert.deepEqual(Object.keys(options.body?.data as Row), ['digest']);
  const denied = await sim.api('PUT', '/cluster/firewall/options', { enable: '1' });
  assert.equal(denied.status, 403);
  assert.equal(denied.statusText, 'Permission check failed (/, Sys.Modify)');
  const stale = await sim.api('PUT', '/cluster/firewall/options', { enable: '1', digest: 'a'.repeat(40) }, root);
  assert.equal(stale.status, 500);
  assert.match(stale.statusText, /detected modified configuration/);
  assert.equal(
    (await sim.api('PUT', '/cluster/firewall/options', { enable: '1', policy_in: 'DROP' }, root)).status,
    200,
  );
  const enabled = (await sim.api('GET', '/cluster/firewall/options', {}, root)).body?.data as Row;
  assert.equal(enabled.enable, 1);
  assert.equal(enabled.policy_in, 'DROP');
  const bad = await sim.api('PUT', '/cluster/firewall/options', { policy_out: 'ALLOW', delete: 'nonsense' }, root);
  assert.equal(bad.status, 400);
  assert.match(String(bad.body?.errors?.policy_out), /enumeration/);
});

test('VM rules: new ones go on top and start disabled unless enable is given; pos and digest on every row', async () => {
  const first = await sim.api('POST', vmRules, { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '22' });
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(first.body, { data: null });
  const second = await sim.api('POST', vmRules, {
    type: 'in',
    action: 'ACCEPT',
    macro: 'http',
    source: '10.10.1.0/24',
    enable: '1',
    comment: 'web',
  });
  assert.equal(second.status, 200, second.text);
  const list = rows(await sim.api('GET', vmRules));
  assert.equal(list.length, 2);
  assert.deepEqual(
    list.map((rule) => [rule.pos, rule.macro ?? rule.dport, rule.enable]),
    [
      [0, 'HTTP', 1],
      [1, '22', 0],
    ],
  );
  assert.equal(list[0]?.ipversion, 4);
  assert.match(String(list[0]?.digest), /^[0-9a-f]{40}$/);
  assert.equal(list[0]?.digest, list[1]?.digest);
  const one = (await sim.api('GET', `${vmRules}/1`)).body?.data as Row;
  assert.equal(one.pos, 1);
  const missing = await sim.api('GET', `${vmRules}/7`);
  assert.equal(missing.status, 500);
  assert.equal(missing.statusText, 'no rule at position 7');
});

test('VM rules: update, delete a field, move, and a stale digest refuses the change', async () => {
  const digest = String(rows(await sim.api('GET', vmRules))[0]?.digest);
  const enable = await sim.api('PUT', `${vmRules}/1`, { enable: '1', digest });
  assert.equal(enable.status, 200, enable.text);
  const stale = await sim.api('PUT', `${vmRules}/1`, { comment: 'x', digest });
  assert.equal(stale.status, 500);
  assert.match(stale.statusText, /^detected modified configuration/);
  assert.equal((await sim.api('PUT', `${vmRules}/0`, { delete: 'comment,source' })).status, 200);
  const required = await sim.api('PUT', `${vmRules}/0`, { delete: 'action' });
  assert.deepEqual(required.body?.errors, { delete: "unable to delete required property 'action'" });
  assert.equal((await sim.api('PUT', `${vmRules}/0`, { moveto: '2' })).status, 200);
  const list = rows(await sim.api('GET', vmRules));
  assert.deepEqual(
    list.map((rule) => [rule.dport ?? rule.macro, rule.enable, rule.comment, rule.source]),
    [
      ['22', 1, undefined, undefined],
      ['HTTP', 1, undefined, undefined],
    ],
  );
  const removed = await sim.api('DELETE', `${vmRules}/1`, { digest: String(list[0]?.digest) });
  assert.equal(removed.status, 200);
  assert.equal(rows(await sim.api('GET', vmRules)).length, 1);
});

test('rule validation answers 400 naming the field, in PVE words', async () => {
  const cases: Array<[Record<string, string>, Record<string, string | RegExp>]> = [
    [{ type: 'in', action: 'ACCEPT', dport: '80' }, { proto: "missing property - 'dport' requires this property" }],
    [
      { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: 'nope' },
      { dport: "invalid format - invalid port 'nope'\n" },
    ],
    [
      { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '90:80' },
      { dport: "invalid format - backwards range '90:80' not allowed, did you mean '80:90'?\n" },
    ],
    [{ type: 'forward', action: 'ACCEPT' }, { type: "invalid rule type 'forward' for rule_env 'vm'" }],
    [{ type: 'in', action: 'ALLOW' }, { action: "unknown action 'ALLOW'" }],
    [{ type: 'in', action: 'ACCEPT', macro: 'Nope' }, { macro: "unknown macro 'Nope'" }],
    [{ type: 'in', action: 'ACCEPT', iface: 'eth0' }, { iface: "value does not match the regex pattern 'net\\d+'" }],
    [{ type: 'in', action: 'ACCEPT', source: '+nothere' }, { source: "no such ipset 'nothere'" }],
    [{ type: 'in', action: 'ACCEPT', source: 'nothere' }, { source: "no such alias 'nothere'" }],
    [{ type: 'in', action: 'ACCEPT', source: '10.0.0.1,fd00::1' }, { source: /mixed ipv4\/ipv6/ }],
    [
      { type: 'in', action: 'ACCEPT', macro: 'SSH', proto: 'udp' },
      { proto: "parameter 'proto' already define in macro (value = 'tcp')" },
    ],
  ];
  for (const [params, errors] of cases) {
    const answer = await sim.api('POST', vmRules, params);
    assert.equal(answer.status, 400, JSON.stringify(params));
    assert.equal(answer.statusText, 'Parameter verification failed.');
    for (const [field, message] of Object.entries(errors)) {
      if (message instanceof RegExp) assert.match(String(answer.body?.errors?.[field]), message);
      else assert.equal(answer.body?.errors?.[field], message, JSON.stringify(params));
    }
  }
  const missing = await sim.api('POST', vmRules, { action: 'ACCEPT' });
  assert.equal(missing.body?.errors?.type, 'property is missing and it is not optional');
});

test('security groups: rules inside, group rules in VMs, no delete while not empty, rename follows references', async () => {
  assert.equal((await sim.api('POST', '/cluster/firewall/groups', { group: 'webonly' }, root)).status, 200);
  const dup = await sim.api('POST', '/cluster/firewall/groups', { group: 'webonly' }, root);
  assert.deepEqual(dup.body?.errors, { group: "Security group 'webonly' already exists" });
  const tooLong = await sim.api('POST', '/cluster/firewall/groups', { group: 'a-name-that-is-too-long' }, root);
  assert.deepEqual(tooLong.body?.errors, { group: 'value may only be 18 characters long' });
  const inGroup = await sim.api(
    'POST',
    '/cluster/firewall/groups/webonly',
    { type: 'in', action: 'ACCEPT', macro: 'Web', enable: '1' },
    root,
  );
  assert.equal(inGroup.status, 200, inGroup.text);
  const nested = await sim.api('POST', '/cluster/firewall/groups/webonly', { type: 'group', action: 'x1' }, root);
  assert.deepEqual(nested.body?.errors, { type: "invalid rule type 'group' for rule_env 'group'" });
  assert.equal((await sim.api('POST', vmRules, { type: 'group', action: 'webonly', enable: '1' })).status, 200);
  const notEmpty = await sim.api('DELETE', '/cluster/firewall/groups/webonly', {}, root);
  assert.equal(notEmpty.status, 500);
  assert.equal(notEmpty.statusText, "Security group 'webonly' is not empty");
  const renamed = await sim.api('POST', '/cluster/firewall/groups', { group: 'web', rename: 'webonly' }, root);
  assert.equal(renamed.status, 200, renamed.text);
  const groups = rows(await sim.api('GET', '/cluster/firewall/groups', {}, root));
  assert.deepEqual(
    groups.map((group) => group.group),
    ['web'],
  );
  assert.equal(rows(await sim.api('GET', vmRules))[0]?.action, 'web');
  assert.equal(rows(await sim.api('GET', '/cluster/firewall/groups/web', {}, root))[0]?.macro, 'Web');
  const unknown = await sim.api('GET', '/cluster/firewall/groups/nothere', {}, root);
  assert.equal(unknown.statusText, "no such security group 'nothere'");
});

test('IPSets: normalised entries, CIDRs in the path with or without encoding, nomatch, duplicates, deletion', async () => {
  const base = '/cluster/firewall/ipset';
  assert.equal((await sim.api('POST', base, { name: 'labnets', comment: 'lab' }, root)).status, 200);
  for (const cidr of ['10.10.1.0/24', '10.10.1.5/32', '10.10.2.7/24']) {
    const added = await sim.api('POST', `${base}/labnets`, { cidr }, root);
    assert.equal(added.status, 200, added.text);
  }
  const nomatch = await sim.api('POST', `${base}/labnets`, { cidr: '10.10.1.1', nomatch: '1' }, root);
  assert.equal(nomatch.status, 200);
  const entries = rows(await sim.api('GET', `${base}/labnets`, {}, root));
  assert.deepEqual(
    entries.map((entry) => [entry.cidr, entry.nomatch]),
    [
      ['10.10.1.0/24', undefined],
      ['10.10.1.1', 1],
      ['10.10.1.5', undefined],
      ['10.10.2.0/24', undefined],
    ],
  );
  const dup = await sim.api('POST', `${base}/labnets`, { cidr: '10.10.1.5' }, root);
  assert.deepEqual(dup.body?.errors, { cidr: "address '10.10.1.5' already exists" });
  const zero = await sim.api('POST', `${base}/labnets`, { cidr: '0.0.0.0/0' }, root);
  assert.deepEqual(zero.body?.errors, { cidr: 'a zero prefix is not allowed in ipset entries' });
  const bad = await sim.api('POST', `${base}/labnets`, { cidr: '10.10.1.300' }, root);
  assert.equal(bad.status, 400);
  const plain = await sim.api('GET', `${base}/labnets/10.10.2.0/24`, {}, root);
  assert.equal(row(plain).cidr, '10.10.2.0/24');
  const encoded = await sim.api('GET', `${base}/labnets/${encodeURIComponent('10.10.2.0/24')}`, {}, root);
  assert.equal(encoded.status, 200);
  const none = await sim.api('GET', `${base}/labnets/10.9.9.9`, {}, root);
  assert.deepEqual(none.body?.errors, { cidr: 'no such IP/Network' });
  assert.equal((await sim.api('PUT', `${base}/labnets/10.10.1.1`, { comment: 'gw' }, root)).status, 200);
  const updated = (await sim.api('GET', `${base}/labnets/10.10.1.1`, {}, root)).body?.data as Row;
  assert.deepEqual([updated.nomatch, updated.comment], [undefined, 'gw']);
  const notEmpty = await sim.api('DELETE', `${base}/labnets`, {}, root);
  assert.equal(notEmpty.statusText, "IPSet 'labnets' is not empty");
  assert.equal((await sim.api('POST', vmRules, { type: 'in', action: 'DROP', source: '+dc/labnets' })).status, 200);
  assert.equal((await sim.api('DELETE', `${base}/labnets`, { force: '1' }, root)).status, 200);
  const orphan = rows(await sim.api('GET', vmRules))[0];
  assert.deepEqual(orphan?.errors, { source: "no such ipset 'labnets'" }, 'a rule whose IPSet is gone carries errors');
});

test('aliases and VM IPSets: lower-cased keys, ipversion, usable in rules; refs list them by scope', async () => {
  const added = await sim.api('POST', '/cluster/firewall/aliases', { name: 'Mgmt', cidr: '127.0.0.1/32' }, root);
  assert.equal(added.status, 200, added.text);
  const aliases = rows(await sim.api('GET', '/cluster/firewall/aliases', {}, root));
  assert.deepEqual(
    aliases.map((alias) => [alias.name, alias.cidr, alias.ipversion]),
    [['Mgmt', '127.0.0.1', 4]],
  );
  const again = await sim.api('POST', '/cluster/firewall/aliases', { name: 'mgmt', cidr: '10.0.0.1' }, root);
  assert.deepEqual(again.body?.errors, { name: "alias 'mgmt' already exists" });
  assert.equal((await sim.api('POST', vmRules, { type: 'in', action: 'ACCEPT', source: 'dc/mgmt' })).status, 200);
  const vmSet = await sim.api('POST', '/nodes/pve01/qemu/201/firewall/ipset', { name: 'peers' });
  assert.equal(vmSet.status, 200);
  assert.equal(
    (await sim.api('POST', '/nodes/pve01/qemu/201/firewall/ipset/peers', { cidr: 'dc/mgmt' })).status,
    200,
    'an IPSet entry may name an alias',
  );
  const refs = rows(await sim.api('GET', '/nodes/pve01/qemu/201/firewall/refs'));
  assert.deepEqual(
    refs.map((ref) => `${ref.scope}:${ref.ref}`),
    ['dc:mgmt', 'guest:+peers'],
  );
});

test('SDN IPSets of applied VNets are usable as +sdn/<vnet>-all and listed by refs', async () => {
  sim.running.sim.state.sdn.zones.gdlab = { type: 'vlan' };
  sim.running.sim.state.sdn.vnets.gdab12cd = { vnet: 'gdab12cd', zone: 'gdlab', tag: 101 };
  const refs = rows(await sim.api('GET', '/cluster/firewall/refs', { type: 'ipset' }, root));
  assert.deepEqual(
    refs.filter((ref) => ref.scope === 'sdn').map((ref) => ref.name),
    ['gdab12cd-all', 'gdab12cd-gateway', 'gdab12cd-no-gateway', 'gdab12cd-dhcp'],
  );
  const rule = await sim.api('POST', vmRules, { type: 'in', action: 'ACCEPT', source: '+sdn/gdab12cd-all' }, root);
  assert.equal(rule.status, 200, rule.text);
});

test('VM options: defaults are implied, enable is stored 0/1; the token needs VM.Config.Network', async () => {
  const options = '/nodes/pve01/qemu/201/firewall/options';
  assert.deepEqual(Object.keys((await sim.api('GET', options)).body?.data as Row), ['digest']);
  assert.equal((await sim.api('PUT', options, { enable: '1', policy_out: 'DROP' })).status, 200);
  const read = (await sim.api('GET', options)).body?.data as Row;
  assert.deepEqual([read.enable, read.policy_out], [1, 'DROP']);
  const badDelete = await sim.api('PUT', options, { delete: 'policy_forward' });
  assert.deepEqual(badDelete.body?.errors, { delete: "no such option 'policy_forward'" });
  await sim.api('PUT', '/access/acl', { path: '/vms/201', roles: 'PVEAuditor', tokens: 'glassdome@pve!deploy' }, root);
  const denied = await sim.api('PUT', options, { enable: '0' });
  assert.equal(denied.status, 403);
  assert.equal(denied.statusText, 'Permission check failed (/vms/201, VM.Config.Network)');
  await sim.api(
    'PUT',
    '/access/acl',
    { path: '/vms/201', roles: 'PVEAuditor', tokens: 'glassdome@pve!deploy', delete: '1' },
    root,
  );
});

test("a clone takes its source's firewall config; destroying a VM removes its own", async () => {
  assert.equal(await cloneTemplate(sim, 202, { name: 'fw-202' }), 'OK');
  await sim.api('PUT', '/nodes/pve01/qemu/202/firewall/options', { enable: '1' });
  const copied = await sim.api('POST', '/nodes/pve01/qemu/202/clone', { newid: '203' }, root);
  assert.equal(await sim.waitTask(copied.body?.data, root), 'OK');
  assert.equal(row(await sim.api('GET', '/nodes/pve01/qemu/203/firewall/options')).enable, 1);
  const destroyed = await sim.api('DELETE', '/nodes/pve01/qemu/203');
  assert.equal(await sim.waitTask(destroyed.body?.data), 'OK');
  assert.deepEqual(Object.keys((await sim.api('GET', '/nodes/pve01/qemu/203/firewall/options')).body?.data as Row), [
    'digest',
  ]);
  const state = (await sim.admin('GET', '/state')).body as { firewall: { vms: Record<string, unknown> } };
  assert.ok(state.firewall.vms['202'] && !state.firewall.vms['203'], 'the firewall config is part of the state');
});

test('node firewall: index, options with PVE types, rules of the host', async () => {
  assert.deepEqual(
    rows(await sim.api('GET', '/nodes/pve01/firewall')).map((row) => row.name),
    ['rules', 'options', 'log'],
  );
  assert.equal(
    (await sim.api('PUT', '/nodes/pve01/firewall/options', { enable: '0', nf_conntrack_max: '65536' }, root)).status,
    200,
  );
  const options = (await sim.api('GET', '/nodes/pve01/firewall/options', {}, root)).body?.data as Row;
  assert.deepEqual([options.enable, options.nf_conntrack_max], [0, 65536]);
  const host = await sim.api(
    'POST',
    '/nodes/pve01/firewall/rules',
    { type: 'in', action: 'ACCEPT', macro: 'SSH', iface: 'vmbr0' },
    root,
  );
  assert.equal(host.status, 200, host.text);
  const unknownNode = await sim.api('GET', '/nodes/pve09/firewall/rules', {}, root);
  assert.notEqual(unknownNode.status, 200);
});

test('the pve-firewall service: stopping it through the node services API takes the rules away until it starts', async () => {
  const stop = await sim.api('POST', '/nodes/pve01/services/pve-firewall/stop', {}, root);
  assert.match(String(stop.body?.data), /:srvstop:pve-firewall:root@pam:$/);
  assert.equal(await sim.waitTask(stop.body?.data, root), 'OK');
  const state = row(await sim.api('GET', '/nodes/pve01/services/pve-firewall/state', {}, root));
  assert.deepEqual([state.state, state['active-state']], ['dead', 'inactive']);
  assert.equal(sim.running.sim.firewall.runningOn('pve01'), false);
  const start = await sim.api('POST', '/nodes/pve01/services/pve-firewall/start', {}, root);
  assert.equal(await sim.waitTask(start.body?.data, root), 'OK');
  assert.equal(sim.running.sim.firewall.runningOn('pve01'), true);
  const denied = await sim.api('POST', '/nodes/pve01/services/pve-firewall/stop');
  assert.equal(denied.status, 403);
  const list = rows(await sim.api('GET', '/nodes/pve01/services', {}, root));
  assert.ok(list.some((service) => service.service === 'pve-firewall' && service.state === 'running'));
});
