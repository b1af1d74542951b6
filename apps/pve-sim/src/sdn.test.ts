import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { applySdn, editedSdn, pendingObjects, plugNics, runningSdn, zoneStatus } from './sdn';
import { Simulator } from './sim';

const sim = new Simulator({ timeScale: 0.001, withTemplate: false });
after(() => sim.stop());
const root = { userid: 'root@pam' };

test('the pending view lists both sides with state and the pending values', () => {
  const state = sim.state;
  Object.assign(runningSdn(state).vnets, {
    kept: { vnet: 'kept', zone: 'z', tag: 10 },
    retagged: { vnet: 'retagged', zone: 'z', tag: 11, alias: 'old' },
    dropped: { vnet: 'dropped', zone: 'z', tag: 12 },
  });
  Object.assign(editedSdn(state).vnets, {
    kept: { vnet: 'kept', zone: 'z', tag: 10 },
    retagged: { vnet: 'retagged', zone: 'z', tag: 21 },
    fresh: { vnet: 'fresh', zone: 'z', tag: 30 },
  });
  const view = pendingObjects(state, 'vnets');
  assert.deepEqual(view.kept, { vnet: 'kept', zone: 'z', tag: 10 });
  assert.deepEqual(view.retagged, {
    vnet: 'retagged',
    zone: 'z',
    tag: 11,
    alias: 'old',
    state: 'changed',
    pending: { alias: 'deleted', tag: 21 },
  });
  assert.deepEqual(view.dropped, { vnet: 'dropped', zone: 'z', tag: 12, state: 'deleted', pending: {} });
  assert.deepEqual(view.fresh, { vnet: 'fresh', state: 'new', pending: { tag: 30, zone: 'z' } });
});

test('applying commits at once; the node builds its vnets when its reload runs', async () => {
  const state = sim.state;
  editedSdn(state).zones.z = { type: 'vlan', bridge: 'vmbr0' };
  runningSdn(state);
  const upid = applySdn(sim, root);
  assert.deepEqual(Object.keys(state.sdn.vnets).sort(), ['fresh', 'kept', 'retagged']);
  assert.equal(zoneStatus(state, 'pve01'), 'pending');
  const log: string[] = [];
  assert.throws(
    () => plugNics(sim, 'pve01', 100, { net0: 'virtio=BC:24:11:00:00:01,bridge=fresh' }, (line) => log.push(line)),
    /start failed: QEMU exited with code 1/,
  );
  assert.equal(log[0], "bridge 'fresh' does not exist");
  assert.equal((await sim.waitForTask(upid)).exitstatus, 'OK');
  assert.equal(zoneStatus(state, 'pve01'), 'available');
  assert.deepEqual(state.sdn.generated?.pve01?.vnets, ['fresh', 'kept', 'retagged']);
  plugNics(sim, 'pve01', 100, { net0: 'virtio,bridge=fresh', net1: 'virtio,bridge=vmbr0,tag=5' }, () => undefined);
  assert.throws(
    () => plugNics(sim, 'pve01', 100, { net0: 'virtio,bridge=fresh,tag=5' }, () => undefined),
    /start failed/,
  );
});
