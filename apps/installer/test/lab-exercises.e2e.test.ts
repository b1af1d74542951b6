/**
 * Exercises on a running lab, end to end on the simulator (issue 16): the `initial` snapshot of a
 * lab that became ready; a reset of one copy by that copy's trainee key (a file written over SSH is
 * gone there while the other copy keeps its own); a named snapshot of the whole lab that reverts every
 * VM, one rollback at a time per node (OPS_PER_NODE=1), recorded in the lab's events; testing mode
 * ended on demand. Testing mode ended by its timer, TTL changes and cancel are in
 * lab-lifecycle.e2e.test.ts (its timer's minute is waited out there beside a TTL's).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import { type Harness, startHarness } from './harness';
import { type Lab, type LabVm, labClient, type Operation } from './lab-client';

let harness: Harness;
before(async () => {
  harness = await startHarness({
    installers: 2,
    overseer: true,
    // One Proxmox operation at a time per node: a revert of four VMs must queue its rollbacks.
    env: { ISOLATION_CHECK_SECONDS: '20', OVERSEER_SCAN_SECONDS: '2', API_RATE_LIMIT: '100000', OPS_PER_NODE: '1' },
  });
});
after(async () => {
  close();
  await harness?.stop();
});

const { spec, labOf, settled, deploy, operationDone, sh, eventsOf, close } = labClient(() => harness);

type SimTask = { upid: string; type: string; id: string; node: string; starttime: number; endtime?: number };

/** The simulator's tasks of one type. */
async function simTasks(type: string): Promise<SimTask[]> {
  const state = (await harness.sim.admin('GET', '/state')) as { tasks: Record<string, SimTask> };
  return Object.values(state.tasks).filter((task) => task.type === type);
}

function vmOf(lab: Lab, copy: number, name: string): LabVm {
  const vm = lab.vms.find((candidate) => candidate.copy === copy && candidate.name === name);
  assert.ok(vm, `copy ${copy} has ${name}`);
  return vm;
}

let lab: Lab;

test('a lab that becomes ready gets its initial snapshot on every VM', async () => {
  const id = await deploy({ ...spec('exercise'), copies: 2 });
  lab = await settled(id);
  assert.equal(lab.status, 'ready', lab.error);
  const snapshots = await waitFor(
    'the initial snapshot',
    async () => {
      const { body } = await harness.api('GET', `/api/v1/labs/${id}/snapshots`);
      const initial = (body.items as { name: string; status: string; vms: unknown[] }[]).find(
        (s) => s.name === 'initial',
      );
      return initial?.status === 'ready' ? initial : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 300 },
  );
  assert.equal(snapshots.vms.length, 4, 'both VMs of both copies');
  const detail = (await harness.api('GET', `/api/v1/labs/${id}`)).body;
  assert.ok(detail.firstReadyAt, 'the lab remembers its first ready');
});

test('a trainee resets its own copy: the file it wrote is gone, the other copy keeps its own', async () => {
  const [mine, theirs] = [vmOf(lab, 0, 'box'), vmOf(lab, 1, 'box')];
  assert.equal((await sh(mine, 'echo mine-0 > /home/trainee/flag.txt')).code, 0);
  assert.equal((await sh(theirs, 'echo mine-1 > /home/trainee/flag.txt')).code, 0);

  const created = await harness.api('POST', `/api/v1/labs/${lab.id}/trainee-keys`, { copy: 0 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const asTraineeKey = (method: string, path: string, body?: unknown) =>
    fetch(`${harness.stack.apiUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${created.body.key}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const other = await asTraineeKey('POST', `/api/v1/labs/${lab.id}/reset`, { copy: 1 });
  assert.equal(other.status, 404, 'another copy does not exist for the trainee');
  const snapshotByTrainee = await asTraineeKey('POST', `/api/v1/labs/${lab.id}/snapshots`, { name: 'mine' });
  assert.equal(snapshotByTrainee.status, 403, 'a trainee resets, nothing more');

  const reset = await asTraineeKey('POST', `/api/v1/labs/${lab.id}/reset`, {});
  const answer = (await reset.json()) as { operationId: string; vms: number };
  assert.equal(reset.status, 202, JSON.stringify(answer));
  assert.equal(answer.vms, 2, "the trainee's copy: its two VMs");
  const during = await labOf(lab.id);
  assert.ok(['reverting', 'ready'].includes(during.status), during.status);
  const operation = await operationDone(lab.id, answer.operationId);
  assert.equal(operation.status, 'done', operation.error ?? '');
  assert.deepEqual(operation.progress, { done: 2, total: 2 });
  lab = await settled(lab.id);
  assert.equal(lab.status, 'ready', lab.error);
  assert.ok(lab.vms.every((vm) => vm.status === 'ready'));

  const after = await sh(vmOf(lab, 0, 'box'), 'cat /home/trainee/flag.txt || echo gone');
  assert.equal(after.out, 'gone', 'the reset copy lost the file');
  assert.equal(
    (await sh(vmOf(lab, 1, 'box'), 'cat /home/trainee/flag.txt')).out,
    'mine-1',
    'the other copy kept its own',
  );
  const operations = (await harness.api('GET', `/api/v1/labs/${lab.id}/operations`)).body.items as Operation[];
  assert.ok(operations.some((op) => op.id === answer.operationId && op.status === 'done'));
});

test('a named snapshot of the whole lab reverts every VM of every copy', async () => {
  for (const vm of lab.vms) assert.equal((await sh(vm, 'echo 1 > /home/trainee/stage.txt')).code, 0, vm.name);
  const taken = await harness.api('POST', `/api/v1/labs/${lab.id}/snapshots`, { name: 'stage1', withRam: true });
  assert.equal(taken.status, 202, JSON.stringify(taken.body));
  const snapshot = await operationDone(lab.id, String(taken.body.operationId));
  assert.equal(snapshot.status, 'done', snapshot.error ?? '');
  const duplicate = await harness.api('POST', `/api/v1/labs/${lab.id}/snapshots`, { name: 'stage1' });
  assert.equal(duplicate.status, 409, 'a snapshot name is taken once');

  for (const vm of lab.vms) {
    assert.equal((await sh(vm, 'echo 2 > /home/trainee/stage.txt && echo later > /home/trainee/after.txt')).code, 0);
  }
  // Each rollback takes about 3 s on the simulator now, so rollbacks run at once would overlap.
  const earlier = new Set((await simTasks('qmrollback')).map((task) => task.upid));
  await harness.sim.admin('POST', '/faults', { slowTaskFactor: 1000 });
  let operation: Operation;
  try {
    const reverted = await harness.api('POST', `/api/v1/labs/${lab.id}/revert`, { snapshot: 'stage1' });
    assert.equal(reverted.status, 202, JSON.stringify(reverted.body));
    assert.equal(reverted.body.vms, 4);
    const reverting = await labOf(lab.id);
    assert.ok(['reverting', 'ready'].includes(reverting.status), reverting.status);
    operation = await operationDone(lab.id, String(reverted.body.operationId));
  } finally {
    await harness.sim.admin('POST', '/faults', { slowTaskFactor: 1 });
  }
  assert.equal(operation.status, 'done', operation.error ?? '');
  assert.deepEqual(operation.progress, { done: 4, total: 4 });
  lab = await settled(lab.id);
  assert.equal(lab.status, 'ready', lab.error);
  assert.ok(
    lab.vms.every((vm) => vm.status === 'ready'),
    JSON.stringify(lab.vms.map((vm) => vm.status)),
  );

  // Per-node admission: on each node, every rollback started after the one before it had ended.
  const vmids = new Set(
    await Promise.all(lab.vms.map(async (vm) => String((await harness.api('GET', `/api/v1/vms/${vm.id}`)).body.vmid))),
  );
  const rollbacks = (await simTasks('qmrollback')).filter((task) => !earlier.has(task.upid));
  assert.deepEqual(new Set(rollbacks.map((task) => task.id)), vmids, 'one rollback per VM of the lab');
  assert.equal(rollbacks.length, 4);
  const nodes = new Set(rollbacks.map((task) => task.node));
  for (const node of nodes) {
    const onNode = rollbacks.filter((task) => task.node === node).sort((a, b) => a.starttime - b.starttime);
    for (let i = 1; i < onNode.length; i++) {
      assert.ok(
        onNode[i]!.starttime >= onNode[i - 1]!.endtime!,
        `${node}: rollback of ${onNode[i]!.id} started at ${onNode[i]!.starttime}, before ${onNode[i - 1]!.id}'s ended (${onNode[i - 1]!.endtime})`,
      );
    }
  }
  const kinds = (await eventsOf(lab.id)).map((event) => event.kind);
  assert.ok(kinds.includes('lab.snapshot.taken'), 'the snapshot is in the events');
  assert.equal(kinds.filter((kind) => kind === 'vm.reverted').length, 2 + 4, 'the reset’s two VMs, then all four');
  assert.ok(kinds.includes('lab.reverted'), 'the revert’s end is in the events');
  for (const vm of lab.vms) {
    const seen = await sh(
      vm,
      'cat /home/trainee/stage.txt; test -e /home/trainee/after.txt && echo after-left || echo after-gone',
    );
    assert.equal(seen.out, '1\nafter-gone', `${vm.name} of copy ${vm.copy}`);
  }
  const missing = await harness.api('POST', `/api/v1/labs/${lab.id}/revert`, { snapshot: 'nosuch' });
  assert.equal(missing.status, 404, JSON.stringify(missing.body));
});

test('testing mode widens egress for a while after a snapshot, and the lab’s policy comes back', async () => {
  const box = vmOf(lab, 0, 'box');
  const outside = 'curl -s -m 3 -o /dev/null http://203.0.113.10/ && echo reached || echo blocked';
  assert.equal((await sh(box, outside)).out, 'blocked', 'the spec allows no egress');
  const started = await harness.api('POST', `/api/v1/labs/${lab.id}/testing`, {
    egress: ['203.0.113.10:80'],
    duration: '30m',
  });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const on = await operationDone(lab.id, String(started.body.operationId));
  assert.equal(on.status, 'done', on.error ?? '');
  const state = (await harness.api('GET', `/api/v1/labs/${lab.id}/testing`)).body.testing as {
    until: string;
    snapshot: string;
  };
  assert.ok(Date.parse(state.until) > Date.now() + 25 * 60_000);
  const snapshots = (await harness.api('GET', `/api/v1/labs/${lab.id}/snapshots`)).body.items as { name: string }[];
  assert.ok(
    snapshots.some((s) => s.name === state.snapshot),
    'a snapshot was taken before',
  );
  // The firewall applies a change within its update interval.
  await waitFor('egress to the allowed address', async () => (await sh(box, outside)).out === 'reached', {
    timeoutMs: 60_000,
    intervalMs: 1_000,
  });
  assert.equal((await labOf(lab.id)).status, 'ready', 'the lab stays ready');

  const stop = await harness.api('DELETE', `/api/v1/labs/${lab.id}/testing`);
  assert.equal(stop.status, 202, JSON.stringify(stop.body));
  const off = await operationDone(lab.id, String(stop.body.operationId));
  assert.equal(off.status, 'done', off.error ?? '');
  assert.equal((await harness.api('GET', `/api/v1/labs/${lab.id}/testing`)).body.testing, null);
  await waitFor('egress closed again', async () => (await sh(box, outside)).out === 'blocked', {
    timeoutMs: 60_000,
    intervalMs: 1_000,
  });
  const operations = (await harness.api('GET', `/api/v1/labs/${lab.id}/operations`)).body.items as Operation[];
  const kinds = operations.map((op) => (op as Operation & { kind: string }).kind);
  assert.ok(kinds.includes('testing-start') && kinds.includes('testing-stop'));
  const events = (await eventsOf(lab.id)).map((event) => event.kind);
  assert.ok(events.includes('lab.testing.started') && events.includes('lab.testing.stopped'), events.join(' '));
});

test("one VM's own snapshot and revert (by the VM's id) touch that VM only", async () => {
  const [peer, box] = [vmOf(lab, 1, 'peer'), vmOf(lab, 1, 'box')];
  for (const vm of [peer, box]) assert.equal((await sh(vm, 'echo one > /home/trainee/vm.txt')).code, 0);
  const taken = await harness.api('POST', `/api/v1/vms/${peer.id}/snapshots`, { name: 'peer-only' });
  assert.equal(taken.status, 202, JSON.stringify(taken.body));
  assert.equal(taken.body.vms, 1);
  assert.equal((await operationDone(lab.id, String(taken.body.operationId))).status, 'done');
  const listed = (await harness.api('GET', `/api/v1/vms/${peer.id}/snapshots`)).body.items as {
    name: string;
    scope: string;
  }[];
  assert.ok(
    listed.some((s) => s.name === 'peer-only' && s.scope === 'vm'),
    JSON.stringify(listed),
  );
  const onBox = (await harness.api('GET', `/api/v1/vms/${box.id}/snapshots`)).body.items as { name: string }[];
  assert.ok(!onBox.some((s) => s.name === 'peer-only'), 'not a snapshot of the other VM');

  for (const vm of [peer, box]) assert.equal((await sh(vm, 'echo two > /home/trainee/vm.txt')).code, 0);
  const reverted = await harness.api('POST', `/api/v1/vms/${peer.id}/revert`, { snapshot: 'peer-only' });
  assert.equal(reverted.status, 202, JSON.stringify(reverted.body));
  const operation = await operationDone(lab.id, String(reverted.body.operationId));
  assert.equal(operation.status, 'done', operation.error ?? '');
  assert.deepEqual(operation.progress, { done: 1, total: 1 });
  lab = await settled(lab.id);
  assert.equal(lab.status, 'ready', lab.error);
  assert.equal((await sh(vmOf(lab, 1, 'peer'), 'cat /home/trainee/vm.txt')).out, 'one', 'the VM went back');
  assert.equal((await sh(vmOf(lab, 1, 'box'), 'cat /home/trainee/vm.txt')).out, 'two', 'its neighbour did not');

  const removed = await harness.api('DELETE', `/api/v1/labs/${lab.id}/snapshots/peer-only`);
  assert.equal(removed.status, 202, JSON.stringify(removed.body));
  assert.equal((await operationDone(lab.id, String(removed.body.operationId))).status, 'done');
  const after = (await harness.api('GET', `/api/v1/vms/${peer.id}/snapshots`)).body.items as { name: string }[];
  assert.ok(!after.some((s) => s.name === 'peer-only'), 'deleted');
});
