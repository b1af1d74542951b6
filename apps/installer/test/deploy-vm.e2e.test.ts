import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb } from '@glassdome/db';
import { SshPool } from '@glassdome/ssh';
import { type Harness, memoryHostKeys, startHarness } from './harness';
import { onSimNode } from './node-ssh';

let harness: Harness;
before(async () => {
  harness = await startHarness({ installers: 2 });
});
after(async () => harness?.stop());

test('POST /vms deploys a VM that ends ready, reachable with the user key and provisioned', async () => {
  const accepted = await harness.api('POST', '/api/v1/vms', {
    name: 'web-e2e',
    os: 'ubuntu-22.04',
    cloudInit: { user: 'trainee', sshKeys: [harness.userKey.publicKey], packages: ['nginx'] },
    provision: [
      { run: 'echo provisioned > /etc/glassdome-e2e' },
      // A trailing comment once swallowed the "done" marker, so the item ran again on every resume.
      { run: 'echo once >> /etc/glassdome-runs # counted' },
      { file: { path: '/etc/motd', content: 'welcome to the range\n', mode: '0644' } },
    ],
  });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const vm = await harness.waitForVm(String(accepted.body.id), ['ready', 'failed']);
  assert.equal(vm.status, 'ready', `VM failed: ${vm.error}`);
  assert.match(String(vm.ip), /^127\.\d+\.\d+\.\d+$/);

  const steps = vm.steps as { name: string; status: string; startedAt: string; finishedAt: string }[];
  assert.deepEqual(
    steps.map((step) => step.name),
    ['reserve-vmid', 'clone', 'configure', 'firewall', 'start', 'wait-agent', 'wait-ssh', 'post-configure', 'verify'],
  );
  for (const step of steps) {
    assert.equal(step.status, 'done', `${step.name} is ${step.status}`);
    assert.ok(Date.parse(step.finishedAt) >= Date.parse(step.startedAt), `${step.name} has timings`);
  }

  // The trainee's own key opens the VM, and what provisioning wrote is there.
  const ssh = new SshPool();
  try {
    const target = {
      host: String(vm.ip),
      port: harness.sim.info.guestSshPort,
      username: 'trainee',
      privateKey: harness.userKey.privateKey,
      hostKey: { kind: 'tofu' as const, store: memoryHostKeys() },
    };
    const motd = await ssh.exec(target, ['cat', '/etc/motd']);
    assert.equal(motd.stdout, 'welcome to the range\n');
    const marker = await ssh.exec(target, ['cat', '/etc/glassdome-e2e']);
    assert.equal(marker.stdout.trim(), 'provisioned');
    // Every item (nginx, two commands, one file) left its marker after it succeeded.
    const markers = await ssh.exec(target, ['ls', '/var/lib/glassdome/provision']);
    assert.equal(
      markers.stdout
        .trim()
        .split(/\s+/)
        .filter((name) => !name.endsWith('.tmp')).length,
      4,
      markers.stdout,
    );
  } finally {
    ssh.close();
  }
  const effects = JSON.stringify(await harness.sim.admin('GET', `/guest-effects?vmid=${vm.vmid}`));
  assert.match(effects, /nginx/, 'the package install reached the guest');
});

test('a token missing VM.Clone still deploys: the gateway grants exactly that privilege, and the event log shows it', async () => {
  for (const who of [
    ['--tokens', harness.sim.info.tokenId],
    ['--users', harness.sim.info.tokenId.split('!')[0]!],
  ]) {
    await onSimNode(harness.sim.info, [
      'pveum',
      'acl',
      'delete',
      `/vms/${harness.sim.info.templateVmid}`,
      ...who,
      '--roles',
      'PVETemplateUser',
    ]);
  }
  const accepted = await harness.api('POST', '/api/v1/vms', { name: 'needs-grant', os: 'ubuntu-22.04' });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const vm = await harness.waitForVm(String(accepted.body.id), ['ready', 'failed']);
  assert.equal(vm.status, 'ready', `VM failed: ${vm.error}`);

  const db = createDb(harness.databaseUrl);
  try {
    const events = await db
      .selectFrom('events')
      .select(['kind', 'message', 'data'])
      .where('vm_id', '=', String(vm.id))
      .execute();
    const kinds = events.map((event) => event.kind);
    assert.ok(kinds.includes('permission.missing'), kinds.join(','));
    const granted = events.find((event) => event.kind === 'permission.granted');
    assert.ok(granted, `no grant in ${kinds.join(',')}`);
    assert.deepEqual((granted.data as { privileges: string[] }).privileges, ['VM.Clone']);
    assert.match(granted.message, new RegExp(`/vms/${harness.sim.info.templateVmid}`));
  } finally {
    await db.destroy();
  }
});

test('an OS with no template gets it built once by the gateway, and every VM waiting for it goes on', async () => {
  // The simulator has no Debian 12 template: two VMs asking at once share one build.
  const answers = await Promise.all(
    ['deb-a', 'deb-b'].map((name) => harness.api('POST', '/api/v1/vms', { name, os: 'debian-12' })),
  );
  for (const answer of answers) assert.equal(answer.status, 202, JSON.stringify(answer.body));
  for (const answer of answers) {
    const vm = await harness.waitForVm(String(answer.body.id), ['ready', 'failed'], 240_000);
    assert.equal(vm.status, 'ready', `VM failed: ${vm.error}`);
  }
  const db = createDb(harness.databaseUrl);
  try {
    const templates = await db.selectFrom('templates').selectAll().where('os', '=', 'debian-12').execute();
    assert.equal(templates.length, 1, 'one template row for the OS');
    assert.equal(templates[0]!.status, 'ready');
    const waited = await db.selectFrom('events').select('vm_id').where('kind', '=', 'vm.template.waiting').execute();
    assert.ok(waited.length >= 1, 'a VM waited for the build');
  } finally {
    await db.destroy();
  }
  const clones = await onSimNode(harness.sim.info, ['qm', 'list']);
  assert.equal((clones.match(/deb-[ab]\b/g) ?? []).length, 2, clones);
});
