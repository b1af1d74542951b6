import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LockTimeoutError } from './errors';
import { LockTable, storageLockPath } from './locks';

test('shared holders coexist; an exclusive waiter times out with PVE text', async () => {
  const locks = new LockTable();
  const path = storageLockPath('local-lvm');
  const a = await locks.acquire(path, 'shared', 50);
  const b = await locks.acquire(path, 'shared', 50);
  await assert.rejects(locks.acquire(path, 'exclusive', 10), (error: unknown) => {
    assert.ok(error instanceof LockTimeoutError);
    assert.equal(error.message, "can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout");
    return true;
  });
  a();
  b();
  assert.equal(locks.isHeld(path), false);
});

test('waiters are granted in arrival order once the holder releases', async () => {
  const locks = new LockTable();
  const release = await locks.acquire('/l', 'exclusive', 50);
  const order: string[] = [];
  const first = locks.acquire('/l', 'exclusive', 1000).then((r) => {
    order.push('first');
    r();
  });
  const second = locks.acquire('/l', 'exclusive', 1000).then((r) => {
    order.push('second');
    r();
  });
  release();
  release(); // a second release is harmless
  await Promise.all([first, second]);
  assert.deepEqual(order, ['first', 'second']);
});
