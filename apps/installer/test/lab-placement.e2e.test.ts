/**
 * Placement across nodes, end to end: on a three-node simulated cluster (each node with its own copy
 * of the Ubuntu template, as local storage needs), a three-copy lab puts each copy on a node of its
 * own, every VM of a copy on that node, cloned from that node's template; Proxmox agrees on where
 * each VM is. A lab no node can hold fails, naming why.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb } from '@glassdome/db';
import { addNodeTemplates, simulatorRoot } from '@glassdome/testkit';
import { type Harness, startHarness } from './harness';

const NODES = ['pve01', 'pve02', 'pve03'];
let harness: Harness;

before(async () => {
  harness = await startHarness(
    { installers: 1, env: { AGENT_TIMEOUT_SECONDS: '10', ISOLATION_CHECK_SECONDS: '20' } },
    { PVE_SIM_NODES: NODES.join(',') },
  );
  await addNodeTemplates(harness.sim.info, NODES);
});
after(async () => {
  await harness?.stop();
});

type LabVm = { name: string; copy: number; status: string; node: string; vmid: number };

test('a three-copy lab on three nodes puts each copy on a node of its own', async () => {
  const vm = (name: string, dependsOn: string[] = []) => ({
    name,
    os: 'ubuntu-22.04',
    memoryMiB: 512,
    networks: ['lan'],
    dependsOn,
  });
  const accepted = await harness.api('POST', '/api/v1/labs', {
    name: 'spread',
    copies: 3,
    networks: [{ name: 'lan', cidr: '10.30.0.0/24' }],
    vms: [vm('web'), vm('db', ['web'])],
  });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const id = String(accepted.body.id);
  const lab = (await harness.waitForLab(String(id), 180_000)) as { status: string; error?: string; vms: LabVm[] };
  assert.equal(lab.status, 'ready', lab.error);
  assert.equal(lab.vms.length, 6);

  const nodeOfCopy = new Map<number, string>();
  for (const v of lab.vms) {
    const node = nodeOfCopy.get(v.copy) ?? v.node;
    nodeOfCopy.set(v.copy, node);
    assert.equal(v.node, node, `copy ${v.copy}'s VMs are on one node`);
  }
  assert.deepEqual([...new Set(nodeOfCopy.values())].sort(), NODES, 'the three copies are on three nodes');

  // Proxmox has each VM where Glassdome recorded it, each cloned from its own node's template.
  const root = simulatorRoot(harness.sim.info);
  const db = createDb(harness.databaseUrl);
  try {
    const resources = await root.cluster.resources('vm');
    const clones = await db
      .selectFrom('steps')
      .innerJoin('vms', 'vms.id', 'steps.vm_id')
      .select(['vms.vmid', 'steps.detail'])
      .where('vms.lab_id', '=', id)
      .where('steps.name', '=', 'clone')
      .execute();
    for (const v of lab.vms) {
      assert.equal(resources.find((r) => r.vmid === v.vmid)?.node, v.node, `VM ${v.vmid} is on ${v.node} in Proxmox`);
      const template = resources.find((r) => r.template && r.node === v.node && r.name === 'ubuntu-2204-tmpl');
      const clone = clones.find((c) => c.vmid === v.vmid)?.detail as { template?: number } | undefined;
      assert.equal(clone?.template, template?.vmid, `VM ${v.vmid} was cloned from ${v.node}'s template`);
    }
  } finally {
    root.close();
    await db.destroy();
  }
});

test('a lab no node can hold fails, naming why', async () => {
  const accepted = await harness.api('POST', '/api/v1/labs', {
    name: 'too-big',
    networks: [{ name: 'lan', cidr: '10.31.0.0/24' }],
    // More memory than any of the simulated nodes has (128 GiB each).
    vms: [{ name: 'huge', os: 'ubuntu-22.04', memoryMiB: 200_000, networks: ['lan'] }],
  });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const lab = (await harness.waitForLab(String(accepted.body.id), 60_000)) as { status: string; error?: string };
  assert.equal(lab.status, 'failed');
  assert.match(String(lab.error), /no node can take this lab/);
});
