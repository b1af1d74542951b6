/**
 * A VM that fails for good gives up its VMID lease (before, it kept it until a DELETE or the lease's
 * expiry), on either path: its own final failure, or its lab failing with it. Other transitions keep it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createDb,
  type Db,
  insertLab,
  insertVmidLease,
  insertVms,
  listVmidLeases,
  migrateToLatest,
} from '@glassdome/db';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { moveVm, moveVmsOfLab } from '../src/index';

let database: TestDatabase;
let db: Db;
before(async () => {
  database = await createTestDatabase('failed_lease');
  db = createDb(database.url);
  await migrateToLatest(db);
});
after(async () => {
  await db.destroy();
  await database.drop();
});

async function labWithVms(name: string, vmNames: string[]): Promise<{ labId: string; vmIds: string[] }> {
  const labId = await insertLab(db, {
    name,
    platformId: 'default',
    spec: {},
    graph: { tasks: [] },
    onFailure: 'fail',
    copies: 1,
    expiresAt: null,
  });
  const vmIds = await insertVms(
    db,
    vmNames.map((vm) => ({
      labId,
      copy: 0,
      name: vm,
      os: 'ubuntu-22.04',
      platformId: 'default',
      node: 'pve01',
      spec: {},
    })),
  );
  return { labId, vmIds };
}

async function leasedOwners(): Promise<string[]> {
  return (await listVmidLeases(db)).map((lease) => lease.owner).sort();
}

test("a VM's final failure releases its VMID lease; becoming ready does not", async () => {
  const { vmIds } = await labWithVms('one', ['failing', 'fine']);
  const [failing, fine] = vmIds as [string, string];
  await insertVmidLease(db, { platformId: 'default', vmid: 12001, owner: failing, ttlMs: 600_000 });
  await insertVmidLease(db, { platformId: 'default', vmid: 12002, owner: fine, ttlMs: 600_000 });
  assert.equal(await moveVm(db, failing, 'deploy'), true);
  assert.equal(await moveVm(db, fine, 'deploy'), true);
  assert.equal(await moveVm(db, fine, 'ready'), true);
  assert.equal(await moveVm(db, failing, 'fail', { error: 'agent never answered' }), true);
  assert.deepEqual(await leasedOwners(), [fine]);
});

test('the VMs a failing lab takes down with it release their leases', async () => {
  const { labId, vmIds } = await labWithVms('two', ['a', 'b']);
  for (const [index, vmId] of vmIds.entries()) {
    await insertVmidLease(db, { platformId: 'default', vmid: 12100 + index, owner: vmId, ttlMs: 600_000 });
  }
  const moved = await moveVmsOfLab(db, labId, 'fail', { error: 'lab failed' });
  assert.deepEqual(moved.sort(), [...vmIds].sort());
  const owners = await leasedOwners();
  assert.ok(
    vmIds.every((vmId) => !owners.includes(vmId)),
    `no lease left: ${owners.join(', ')}`,
  );
});
