/**
 * The `firewall.status` answer against a two-node simulator whose pve-firewall never updates on its
 * own (only a service restart compiles): a node says compiled only once it compiled after the
 * latest write, each node for itself (pve02 asked over the cluster's SSH between nodes), a name
 * that is not a member reaches no host, and a question nobody waits for any more is not worked out.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { JobContext } from '@glassdome/queue';
import { waitFor } from '@glassdome/testkit';
import { firewallStatus } from '../src/firewall-status';
import { onNode } from '../src/node-shell';
import { type GatewayHarness, startGatewayHarness } from './harness';

let harness: GatewayHarness;

before(async () => {
  harness = await startGatewayHarness('firewall-status', (sim) => ({ PROXMOX_NODE: sim.info.node }), {
    PVE_SIM_NODES: 'pve01,pve02',
    PVE_SIM_LATENCIES: JSON.stringify({ firewallUpdate: 1e9 }),
  });
});

after(() => harness?.close());

/** A job added now. */
const askedNow = () => ({ job: { timestamp: Date.now() } }) as Pick<JobContext, 'job'>;

async function states(nodes: string[]) {
  return (await firewallStatus(harness.ctx, nodes, askedNow())).nodes;
}

function pvesh(...args: string[]): Promise<string> {
  return onNode(harness.ctx, ['pvesh', ...args]);
}

/** Waits for a task the node started (by its UPID) to end. */
async function taskEnded(node: string, upid: string): Promise<void> {
  await waitFor(`task ${upid}`, async () => {
    const status = JSON.parse(await pvesh('get', `/nodes/${node}/tasks/${upid}/status`, '--output-format', 'json')) as {
      status?: string;
    };
    return status.status === 'stopped';
  });
}

/** Restarting pve-firewall compiles at once (its task ends shortly after the call returns). */
async function restart(node: string): Promise<void> {
  await taskEnded(node, (await pvesh('create', `/nodes/${node}/services/pve-firewall/restart`)).trim());
}

test('compiled only after the latest write is compiled, node by node', async () => {
  // Switching the datacenter firewall on, then the compile that puts it in force.
  await pvesh('set', '/cluster/firewall/options', '--enable', '1');
  assert.deepEqual(await states(['pve01', 'pve02']), { pve01: 'pending', pve02: 'pending' });
  await restart('pve01');
  assert.deepEqual(await states(['pve01', 'pve02']), { pve01: 'compiled', pve02: 'compiled' });

  // A rule on a VM of pve02 is pve02's alone to compile; pve01 has nothing pending.
  await taskEnded('pve02', (await pvesh('create', '/nodes/pve02/qemu', '--vmid', '200', '--name', 'probe')).trim());
  await pvesh('set', '/nodes/pve02/qemu/200/firewall/options', '--enable', '1');
  await pvesh('create', '/nodes/pve02/qemu/200/firewall/rules', '--type', 'in', '--action', 'DROP', '--enable', '1');
  assert.deepEqual(await states(['pve02', 'pve01']), { pve01: 'compiled', pve02: 'pending' });
  await restart('pve02');
  assert.deepEqual(await states(['pve01', 'pve02']), { pve01: 'compiled', pve02: 'compiled' });

  // A cluster-wide write concerns every node.
  await pvesh('create', '/cluster/firewall/ipset', '--name', 'gdstatus');
  await pvesh('create', '/cluster/firewall/ipset/gdstatus', '--cidr', '10.9.9.9');
  assert.deepEqual(await states(['pve01', 'pve02']), { pve01: 'pending', pve02: 'pending' });
});

test('a node the cluster does not list is unknown, and a stale question is not worked out', async () => {
  assert.deepEqual(await states(['pve99']), { pve99: 'unknown' });
  const asked = { job: { timestamp: Date.now() - 60_000 } } as Pick<JobContext, 'job'>;
  assert.deepEqual(await firewallStatus(harness.ctx, ['pve01'], asked), { nodes: {} });
});

test('a node is asked at most once a second, and askers meanwhile share the next answer', async () => {
  await states(['pve01']);
  const began = Date.now();
  const [first, second] = await Promise.all([states(['pve01']), states(['pve01'])]);
  assert.deepEqual(first, second);
  assert.ok(['compiled', 'pending'].includes(String(first.pve01)), JSON.stringify(first));
  assert.ok(Date.now() - began >= 900, `the next call waited for its turn: ${Date.now() - began} ms`);
});
