/**
 * A lab's placement is decided by the first installer to need it, under the lab's row lock. Another
 * installer may read the cluster while the first is placing: by the time it gets the lock, the first
 * one's placement is recorded (and its clones may already fill the nodes this one saw). The recorded
 * placement must win over what this installer would have decided — even when its own read of the
 * cluster left no room for the lab — and a refusal stands only when nobody placed the lab.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Db, finishStep, insertLab, insertVms, lockLabForPlacement, planSteps, startStep } from '@glassdome/db';
import { waitFor } from '@glassdome/testkit';
import { sql } from 'kysely';
import type { InstallerContext } from '../src/context';
import { ensureLabPlaced, PLACEMENT_STEP } from '../src/placement';
import { type DirectContext, startDirectContext } from './direct-context';

let direct: DirectContext;
let db: Db;
let ctx: InstallerContext;
let templateName: string;

before(async () => {
  direct = await startDirectContext('placement-race', () => ({ PROXMOX_STORAGE: 'local-lvm', TEMPLATE_VMIDS: '' }), {
    env: { PVE_SIM_NODES: 'pve01,pve02' },
  });
  ({ db, ctx } = direct);
  const template = (await direct.pve.cluster.resources('vm')).find((vm) => vm.template && vm.name);
  assert.ok(template?.name, 'the simulator has a template');
  templateName = template.name;
});

after(() => direct?.stop());

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
