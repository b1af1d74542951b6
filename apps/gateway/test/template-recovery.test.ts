/**
 * A template build that stopped half-way recovers: the next attempt removes the VM its predecessor
 * left after `qm create` and builds the template (before, every retry failed with "exists and is not
 * a template"); a VM at the VMID that Glassdome did not create is never touched; the row is `failed`
 * only when no attempt follows.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Db, getTemplate, insertTemplate } from '@glassdome/db';
import type { Proxmox } from '@glassdome/proxmox';
import { PermanentError } from '@glassdome/queue';
import type { TestSimulator } from '@glassdome/testkit';
import type { GatewayContext } from '../src/context';
import { buildMark, createTemplate } from '../src/create-template';
import { type GatewayHarness, startGatewayHarness } from './harness';

let harness: GatewayHarness;
let sim: TestSimulator;
let db: Db;
let pve: Proxmox;
let ctx: GatewayContext;

before(async () => {
  harness = await startGatewayHarness('template-recovery', () => ({
    PROXMOX_STORAGE: 'local-lvm',
    PROXMOX_BRIDGE: 'vmbr0',
    TEMPLATE_IMAGE_DIR: '/var/lib/vz/template/iso',
  }));
  ({ sim, db, ctx } = harness);
  pve = ctx.pve;
});

after(() => harness?.close());

async function onNode(argv: string[]) {
  return ctx.ssh.exec(ctx.node, argv, { allowFailure: true });
}

async function newTemplate(os: string, vmid: number) {
  const id = await insertTemplate(db, {
    platformId: 'default',
    node: sim.info.node,
    os,
    vmid,
    name: `tpl-${os.replaceAll('.', '-')}`,
  });
  assert.ok(id);
  return id;
}

test('a VM an earlier build left after qm create is removed and the template built', async () => {
  const id = await newTemplate('ubuntu-24.04', 9101);
  // What a build that crashed right after `qm create` leaves: a VM with our mark, not a template.
  const created = await onNode([
    'qm',
    'create',
    '9101',
    '--name',
    'tpl-ubuntu-24-04',
    '--description',
    buildMark('ubuntu-24.04'),
  ]);
  assert.equal(created.exitCode, 0, created.stderr);

  const result = await createTemplate(ctx, id);
  assert.deepEqual(result, { vmid: 9101, built: true });
  const config = await pve.vms.config(9101);
  assert.equal(config.template, true);
  const row = await getTemplate(db, id);
  assert.equal(row?.status, 'ready');
  const events = await db.selectFrom('events').select('kind').where('kind', 'like', 'template.%').execute();
  assert.deepEqual(
    events.map((event) => event.kind),
    ['template.cleaned-up', 'template.built'],
  );
});

test("a VM at the VMID that is not Glassdome's half-built template is never touched", async () => {
  const id = await newTemplate('debian-12', 9102);
  assert.equal((await onNode(['qm', 'create', '9102', '--name', 'someone-elses'])).exitCode, 0);
  await assert.rejects(
    createTemplate(ctx, id),
    (error) => error instanceof PermanentError && /not a template/.test(error.message),
  );
  assert.equal((await pve.vms.config(9102)).name, 'someone-elses');
  const row = await getTemplate(db, id);
  assert.equal(row?.status, 'failed');
  assert.match(row?.error ?? '', /exists and is not a template/);
});
