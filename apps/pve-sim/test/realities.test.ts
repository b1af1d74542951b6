/** Each Proxmox reality the clients must cope with, reproduced through the HTTP API. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cloneTemplate, startTestSim } from './helpers';

test('nextid reserves nothing: concurrent callers get the same id, and a clone keeps it free until its worker starts', async () => {
  // A wide clone window (5 s nominal, 0.5 s real) so the nextid call lands inside it on a busy machine.
  const sim = await startTestSim({ latencies: { cloneWorkerStart: 50_000 } });
  try {
    const [a, b] = await Promise.all([sim.api('GET', '/cluster/nextid'), sim.api('GET', '/cluster/nextid')]);
    assert.equal(a.body?.data, '100');
    assert.equal(b.body?.data, '100');
    const clone = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '100' });
    assert.equal(clone.status, 200);
    // The clone window: the POST has returned but the worker has not written the temporary config.
    assert.equal((await sim.api('GET', '/cluster/nextid')).body?.data, '100');
    const loser = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '100' });
    assert.equal(loser.status, 200);
    const results = await Promise.all([sim.waitTask(clone.body?.data), sim.waitTask(loser.body?.data)]);
    assert.equal(results.filter((r) => r === 'OK').length, 1);
    assert.match(
      results.find((r) => r !== 'OK')!,
      // Refused before its temporary config is written: PVE words it without `clone failed: `.
      /^(unable to create VM 100: config file already exists|can't lock file '\/var\/lock\/qemu-server\/lock-100.conf' - got timeout)$/,
    );
    assert.equal((await sim.api('GET', '/cluster/nextid')).body?.data, '101');
    const taken = await sim.api('GET', '/cluster/nextid', { vmid: '100' });
    assert.equal(taken.status, 400);
    assert.deepEqual(taken.body?.errors, { vmid: 'VM 100 already exists' });
  } finally {
    await sim.stop();
  }
});

test('create reserves its id before answering, so the loser of a race fails synchronously', async () => {
  const sim = await startTestSim();
  try {
    const root = await sim.rootAuth();
    const params = { vmid: '120', memory: '1024', scsi0: 'local-lvm:4', net0: 'virtio,bridge=vmbr0' };
    const [first, second] = await Promise.all([
      sim.api('POST', '/nodes/pve01/qemu', params, root),
      sim.api('POST', '/nodes/pve01/qemu', params, root),
    ]);
    const statuses = [first.status, second.status].sort();
    assert.deepEqual(statuses, [200, 500]);
    const loser = first.status === 500 ? first : second;
    assert.equal(loser.statusText, "unable to create VM 120 - VM 120 already exists on node 'pve01'");
  } finally {
    await sim.stop();
  }
});

test('parallel full clones on one storage time out on the storage lock', async () => {
  // 8 s per disk against a 10 s lock timeout: the first two fit, the third cannot.
  const sim = await startTestSim({ timeScale: 0.03 });
  try {
    const posts = await Promise.all(
      [201, 202, 203, 204].map((newid) =>
        sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: String(newid), full: '1' }),
      ),
    );
    assert.ok(
      posts.every((answer) => answer.status === 200),
      'every POST succeeds; failures come later in the tasks',
    );
    const results = await Promise.all(posts.map((answer) => sim.waitTask(answer.body?.data)));
    const failed = results.filter((r) => r !== 'OK');
    assert.ok(failed.length >= 1, `expected lock timeouts, got ${results.join(', ')}`);
    for (const failure of failed) {
      assert.equal(
        failure,
        "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout",
      );
    }
    const log = await sim.api('GET', `/nodes/pve01/tasks/${encodeURIComponent(String(posts[3]!.body?.data))}/log`);
    const lines = (log.body!.data as Array<{ t: string }>).map((line) => line.t);
    assert.match(lines[lines.length - 1]!, /^TASK (OK|ERROR: clone failed: can't lock file)/);
  } finally {
    await sim.stop();
  }
});

test('a config update during a clone finds the VM locked (clone)', async () => {
  const sim = await startTestSim({ timeScale: 0.02 });
  try {
    const clone = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '130', full: '1' });
    let locked: string | undefined;
    for (let i = 0; i < 200 && !locked; i++) {
      const list = (await sim.api('GET', '/nodes/pve01/qemu')).body?.data as Array<{ vmid: number; lock?: string }>;
      locked = list.find((vm) => vm.vmid === 130)?.lock;
      if (!locked) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(locked, 'clone');
    const source = await sim.api('PUT', '/nodes/pve01/qemu/9000/config', { description: 'x' }, await sim.rootAuth());
    // The template holds only a shared lock, so a writer times out waiting, or succeeds after the clone.
    assert.ok([200, 500].includes(source.status));
    assert.equal(await sim.waitTask(clone.body?.data), 'OK');
  } finally {
    await sim.stop();
  }
});

test('VM is locked (clone) while the clone worker holds the new id', async () => {
  const sim = await startTestSim({
    timeScale: 0.05,
    latencies: { cloneLockTimeout: 1000, vmLockTimeout: 10 },
  });
  try {
    const clone = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '131', full: '1' });
    let answer = await sim.api('PUT', '/nodes/pve01/qemu/131/config', { ciuser: 'x' });
    for (let i = 0; i < 200 && answer.statusText.startsWith('Configuration file'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      answer = await sim.api('PUT', '/nodes/pve01/qemu/131/config', { ciuser: 'x' });
    }
    assert.equal(answer.status, 500);
    assert.match(
      answer.statusText,
      /^(VM is locked \(clone\)|can't lock file '\/var\/lock\/qemu-server\/lock-131.conf' - got timeout)$/,
    );
    assert.equal(await sim.waitTask(clone.body?.data), 'OK');
  } finally {
    await sim.stop();
  }
});

test('the guest agent is not running until its boot delay has passed', async () => {
  // An agent boot delay (0.5 s real) long enough that the first call surely comes before it.
  const sim = await startTestSim({ latencies: { agentStart: 50_000 } });
  try {
    assert.equal(await cloneTemplate(sim, 140), 'OK');
    const stopped = await sim.api('GET', '/nodes/pve01/qemu/140/agent/network-get-interfaces');
    assert.equal(stopped.statusText, 'VM 140 is not running');
    const start = await sim.api('POST', '/nodes/pve01/qemu/140/status/start');
    assert.equal(await sim.waitTask(start.body?.data), 'OK');
    const early = await sim.api('GET', '/nodes/pve01/qemu/140/agent/network-get-interfaces');
    assert.equal(early.status, 500);
    assert.equal(early.statusText, 'QEMU guest agent is not running');
    let ready = early;
    while (ready.status !== 200) ready = await sim.api('GET', '/nodes/pve01/qemu/140/agent/network-get-interfaces');
    const result = (
      ready.body!.data as { result: Array<{ name: string; 'ip-addresses'?: Array<{ 'ip-address': string }> }> }
    ).result;
    assert.deepEqual(
      result.map((i) => i.name),
      ['lo', 'ens18'],
    );
    assert.equal(result[1]!['ip-addresses']![0]!['ip-address'], '127.64.0.140');
    await sim.api('PUT', '/nodes/pve01/qemu/140/config', { delete: 'agent' });
    const none = await sim.api('GET', '/nodes/pve01/qemu/140/agent/network-get-interfaces');
    assert.equal(none.statusText, 'No QEMU guest agent configured');
  } finally {
    await sim.stop();
  }
});

test('a token without VM.Clone on the template gets 403 until root grants it back', async () => {
  const sim = await startTestSim();
  try {
    const root = await sim.rootAuth();
    const revoke = await sim.api(
      'PUT',
      '/access/acl',
      { path: '/vms/9000', roles: 'PVETemplateUser', tokens: sim.running.tokenId, delete: '1' },
      root,
    );
    assert.equal(revoke.status, 200);
    const denied = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '150' });
    assert.equal(denied.status, 403);
    assert.equal(denied.statusText, 'Permission check failed (/vms/9000, VM.Clone)');
    assert.deepEqual(denied.body, { data: null, message: 'Permission check failed (/vms/9000, VM.Clone)\n' });
    const grant = await sim.api(
      'PUT',
      '/access/acl',
      { path: '/vms/9000', roles: 'PVETemplateUser', tokens: sim.running.tokenId },
      root,
    );
    assert.equal(grant.status, 200);
    assert.equal(await cloneTemplate(sim, 150), 'OK');
  } finally {
    await sim.stop();
  }
});

test('tasks can fail after their POST succeeded (injected failure)', async () => {
  const sim = await startTestSim();
  try {
    await sim.admin('POST', '/faults', { failTasks: { type: 'qmclone', count: 1 } });
    const clone = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '160' });
    assert.equal(clone.status, 200);
    const exit = await sim.waitTask(clone.body?.data);
    assert.notEqual(exit, 'OK');
    assert.equal(await cloneTemplate(sim, 161), 'OK');
  } finally {
    await sim.stop();
  }
});

test('/cluster/resources lags: a fresh clone shows status unknown until the next stats cycle', async () => {
  // A stats cycle far longer than the test, so only the explicit cycle below refreshes them.
  const sim = await startTestSim({ latencies: { resourcesLag: 10_000_000 } });
  try {
    assert.equal(await cloneTemplate(sim, 170), 'OK');
    const resources = async () =>
      ((await sim.api('GET', '/cluster/resources', { type: 'vm' })).body!.data as Array<Record<string, unknown>>).find(
        (row) => row.vmid === 170,
      );
    assert.deepEqual(await resources(), { id: 'qemu/170', vmid: 170, node: 'pve01', type: 'qemu', status: 'unknown' });
    sim.running.sim.refreshResourceStats();
    const later = await resources();
    assert.equal(later?.status, 'stopped');
    assert.equal(later?.template, 0);
    assert.equal(later?.name, 'Copy-of-VM-ubuntu-2204-tmpl');
  } finally {
    await sim.stop();
  }
});
