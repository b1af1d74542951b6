/**
 * A revert whose job fails for good in a way its handler did not settle still ends: the operation is
 * `failed` with the reason, the VMs it was reverting are `failed`, and the lab is `degraded` — never
 * left `reverting` (nor busy) for ever. A failure that another attempt will retry changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createDb,
  type Db,
  getLab,
  getLabOperation,
  getVm,
  insertLab,
  insertVmSnapshots,
  insertVms,
  migrateToLatest,
  setVmSnapshotStatus,
} from '@glassdome/db';
import { moveLab, moveVm, requestRevert } from '@glassdome/lab-run';
import { createLogger } from '@glassdome/logger';
import type { JobContext } from '@glassdome/queue';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import type { InstallerContext } from '../src/context';
import { endingOperation } from '../src/jobs/operation-end';

let database: TestDatabase;
let db: Db;
before(async () => {
  database = await createTestDatabase('operation_end');
  db = createDb(database.url);
  await migrateToLatest(db);
});
after(async () => {
  await db.destroy();
  await database.drop();
});

async function readyLabWithSnapshot() {
  const labId = await insertLab(db, {
    name: `lab-${Math.random().toString(36).slice(2, 8)}`,
    platformId: 'default',
    spec: {},
    graph: { tasks: [] },
    onFailure: 'fail',
    copies: 1,
    expiresAt: null,
  });
  const [vmId] = await insertVms(db, [
    { labId, copy: 0, name: 'box', os: 'ubuntu-22.04', platformId: 'default', node: 'pve01', spec: {} },
  ]);
  await moveLab(db, labId, 'start');
  await moveVm(db, vmId!, 'deploy');
  await moveVm(db, vmId!, 'ready');
  await moveLab(db, labId, 'settleReady');
  await insertVmSnapshots(db, [{ vmId: vmId!, labId, copy: 0, name: 'initial', scope: 'lab', withRam: false }]);
  await setVmSnapshotStatus(db, { vmId: vmId!, name: 'initial' }, { status: 'ready' });
  return { labId, vmId: vmId! };
}

const logger = createLogger({ name: 'test', level: 'silent', format: 'json' });
const attempt = (made: number) => ({ job: { attemptsMade: made, opts: { attempts: 3 } } }) as unknown as JobContext;

test('a revert that fails for good settles its lab and VMs; one that will be retried does not', async () => {
  const { labId, vmId } = await readyLabWithSnapshot();
  const { operationId } = await requestRevert(db, { labId, target: { kind: 'lab' }, name: 'initial' });
  assert.equal((await getLab(db, labId))?.status, 'reverting');
  const boom = () => Promise.reject(new Error('Postgres went away mid-revert'));
  const context = { db, logger } as unknown as InstallerContext;

  await assert.rejects(endingOperation(context, operationId, attempt(0), boom), /went away/);
  assert.equal((await getLab(db, labId))?.status, 'reverting', 'another attempt follows: nothing settled');
  assert.equal((await getLabOperation(db, operationId))?.status, 'queued');

  await assert.rejects(endingOperation(context, operationId, attempt(2), boom), /went away/);
  const lab = await getLab(db, labId);
  assert.equal(lab?.status, 'degraded');
  assert.match(lab?.error ?? '', /went away/);
  assert.equal((await getVm(db, vmId))?.status, 'failed');
  const operation = await getLabOperation(db, operationId);
  assert.equal(operation?.status, 'failed');
  assert.match(operation?.error ?? '', /went away/);
});
