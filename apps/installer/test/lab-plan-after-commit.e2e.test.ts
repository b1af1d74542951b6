/**
 * The API writes a lab's VM step rows after its deploy's commit (`planLabVmSteps`, once the intent is
 * sent); until then the VMs keep their plan on their rows. An API that dies in between leaves a lab
 * whose intent the outbox relay sends and whose VMs have no step rows: each provision task writes its
 * VM's rows itself (`planVmSteps`) and the lab settles as any other, readers showing the plan meanwhile.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db, inTransaction } from '@glassdome/db';
import { parseLabSpec } from '@glassdome/lab';
import { recordLabDeploy } from '@glassdome/lab-run';
import { VM_DEPLOY_STEPS } from '@glassdome/queue';
import { type Harness, startHarness } from './harness';

let harness: Harness;
let db: Db;
before(async () => {
  harness = await startHarness({ installers: 1 });
  db = createDb(harness.databaseUrl);
});
after(async () => {
  await db?.destroy();
  await harness?.stop();
});

type LabVm = { name: string; status: string; steps: { name: string; status: string }[] };

test('a lab recorded without its step rows (the API died after its commit) deploys, each VM getting its rows', async () => {
  // Where this stack's API places labs, from one it deployed.
  const first = await harness.api('POST', '/api/v1/labs', {
    name: 'placed',
    networks: [{ name: 'lan', cidr: '10.31.0.0/24' }],
    vms: [{ name: 'a', os: 'ubuntu-22.04', networks: ['lan'] }],
  });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  const vmRow = await db
    .selectFrom('vms')
    .select(['platform_id', 'node'])
    .where('lab_id', '=', String(first.body.id))
    .executeTakeFirstOrThrow();
  await harness.waitForLab(String(first.body.id));

  const parsed = parseLabSpec({
    name: 'orphaned-plan',
    networks: [{ name: 'lan', cidr: '10.32.0.0/24' }],
    vms: [
      { name: 'a', os: 'ubuntu-22.04', networks: ['lan'] },
      { name: 'b', os: 'ubuntu-22.04', networks: ['lan'], dependsOn: ['a'] },
    ],
  });
  assert.ok(parsed.ok);
  // What the API's deploy transaction commits; no planLabVmSteps after it, and nobody hands the
  // intent to the relay: its pass finds it in the outbox.
  const { labId } = await inTransaction(db, (trx) =>
    recordLabDeploy(trx, {
      spec: parsed.spec,
      platformId: vmRow.platform_id,
      node: vmRow.node,
      project: 'default',
      expiresAt: null,
      planOnVms: true,
    }),
  );
  const rowsOf = async () =>
    (
      await db
        .selectFrom('steps')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('lab_id', '=', labId)
        .where('vm_id', 'is not', null)
        .executeTakeFirstOrThrow()
    ).n;
  const queued = (await harness.api('GET', `/api/v1/labs/${labId}`)).body as { vms: LabVm[] };
  if (Number(await rowsOf()) === 0) {
    // Before any provision task ran: the plan shows as pending steps.
    for (const vm of queued.vms) {
      assert.deepEqual(
        vm.steps.map((s) => [s.name, s.status]),
        VM_DEPLOY_STEPS.map((name) => [name, 'pending']),
      );
    }
  }
  const lab = (await harness.waitForLab(labId)) as { status: string; error?: string; vms: LabVm[] };
  assert.equal(lab.status, 'ready', lab.error);
  assert.equal(lab.vms.length, 2);
  for (const vm of lab.vms) {
    assert.equal(vm.status, 'ready');
    assert.deepEqual(
      vm.steps.map((s) => [s.name, s.status]),
      VM_DEPLOY_STEPS.map((name) => [name, 'done']),
    );
  }
  assert.equal(Number(await rowsOf()), 2 * VM_DEPLOY_STEPS.length);
});
