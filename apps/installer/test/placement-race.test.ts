/**
 * A lab's placement is decided by the first installer to need it, under the lab's row lock. Another
 * installer may read the cluster while the first is placing: by the time it gets the lock, the first
 * one's placement is recorded (and its clones may already fill the nodes this one saw). The recorded
 * placement must win over what this installer would have decided — even when its own read of the
 * cluster left no room for the lab — and a refusal stands only when nobody placed the lab.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  createDb,
  type Db,
  finishStep,
  insertLab,
  insertVms,
  lockLabForPlacement,
  migrateToLatest,
  planSteps,
  startStep,
} from '@glassdome/db';
import { createLogger } from '@glassdome/logger';
import { createProxmox, type Proxmox } from '@glassdome/proxmox';
import { createTestDatabase, startSimulator, type TestDatabase, type TestSimulator, waitFor } from '@glassdome/testkit';
import { sql } from 'kysely';
import type { InstallerContext } from '../src/context';
import type { InstallerEnv } from '../src/env';
import { ensureLabPlaced, PLACEMENT_STEP } from '../src/placement';

let sim: TestSimulator;
let database: TestDatabase;
let db: Db;
let pve: Proxmox;
let ctx: InstallerContext;
let templateName: string;

before(async () => {
  sim = await startSimulator({ env: { PVE_SIM_NODES: 'pve01,pve02' } });
  database = await createTestDatabase('placement-race');
  db = createDb(database.url);
  await migrateToLatest(db);
  pve = createProxmox({
    baseUrl: sim.info.apiUrl,
    node: sim.info.node,
    auth: { tokenId: sim.info.tokenId, tokenSecret: sim.info.tokenSecret },
    polling: { initialMs: 10, maxMs: 50 },
  });
  const logger = createLogger({
    name: 'placement',
    level: 'silent',
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  ctx = {
    env: { PROXMOX_STORAGE: 'local-lvm', TEMPLATE_VMIDS: '' } as InstallerEnv,
    db,
    pve,
    logger,
  } as InstallerContext;
  const template = (await pve.cluster.resources('vm')).find((vm) => vm.template && vm.name);
  assert.ok(template?.name, 'the simulator has a template');
  templateName = template.name;
});

after(async () => {
  pve?.close();
  await db?.destroy();
  await database?.drop();
  await sim?.stop();
});

/** A lab of two copies whose VMs no node can hold (each asks more memory than a node has). */
async function oversizedLab(name: string): Promise<string> {
  const labId = await insertLab(db, {
    name,
    platformId: 'default',
    spec: {},
    graph: {},
    onFailure: 'keep',
    copies: 2,
    expiresAt: null,
  });
  const spec = {
    template: templateName,
    cpus: 1,
    memoryMiB: 200_000,
    diskGiB: 10,
    cloudInit: { user: 'ubuntu', sshKeys: [], packages: [], runcmd: [] },
    provision: [],
  };
  await insertVms(db, [
    { labId, copy: 0, name: 'a', os: 'ubuntu-22.04', platformId: 'default', node: 'pve01', spec },
    { labId, copy: 1, name: 'a', os: 'ubuntu-22.04', platformId: 'default', node: 'pve01', spec },
  ]);
  return labId;
}

/** Sessions of this database waiting for a row lock. */
async function lockWaiters(): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
  `.execute(db);
  return Number(rows[0]!.n);
}

test('a placement another installer recorded while this one read the cluster wins over its refusal', async () => {
  const labId = await oversizedLab('raced');
  const recorded = { copies: { '0': 'pve01', '1': 'pve02' }, templates: {} };
  let outcome: Promise<unknown> | undefined;
  // The other installer holds the lab's row lock while it places the lab; this one reads the
  // cluster (no room for the lab there), then waits for the lock.
  await db.transaction().execute(async (trx) => {
    assert.ok(await lockLabForPlacement(trx, labId));
    outcome = ensureLabPlaced(ctx, labId).then(
      (placement) => ({ placement }),
      (error: Error) => ({ error: error.message }),
    );
    await waitFor(
      'this installer to wait for the lab lock',
      async () => ((await lockWaiters()) > 0 ? true : undefined),
      {
        timeoutMs: 30_000,
        intervalMs: 20,
      },
    );
    await planSteps(trx, { labId }, [PLACEMENT_STEP]);
    await startStep(trx, { labId }, PLACEMENT_STEP);
    await finishStep(trx, { labId }, PLACEMENT_STEP, { status: 'done', detail: recorded });
  });
  assert.deepEqual(await outcome, { placement: recorded });
});

test('a lab no node can hold is refused when nobody placed it', async () => {
  const labId = await oversizedLab('refused');
  await assert.rejects(ensureLabPlaced(ctx, labId), /no node can take this lab/);
});
