/**
 * The `firewall.status` answer against a two-node simulator whose pve-firewall never updates on its
 * own (only a service restart compiles): a node says compiled only once it compiled after the
 * latest write, each node for itself (pve02 asked over the cluster's SSH between nodes), a name
 * that is not a member reaches no host, askers share a call that has not begun and never one that
 * has.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import type { GatewayContext } from '../src/context';
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

async function states(nodes: string[], ctx: GatewayContext = harness.ctx) {
  return (await firewallStatus(ctx, nodes)).nodes;
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
  await restart('pve02');
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

test('a node the cluster does not list is unknown and reaches no host', async () => {
  const { ctx, calls } = counting();
  assert.deepEqual(await states(['pve99'], ctx), { pve99: 'unknown' });
  assert.equal(calls.length, 0);
});

test('the job is set aside while it waits for its answer, and back once it has it', async () => {
  const seen: string[] = [];
  const answer = await firewallStatus(harness.ctx, ['pve01'], () => {
    seen.push('aside');
    return () => seen.push('back');
  });
  assert.ok(['compiled', 'pending'].includes(String(answer.nodes.pve01)), JSON.stringify(answer));
  assert.deepEqual(seen, ['aside', 'back']);
});

/** A context whose SSH calls are recorded, and whose status calls can be held before they answer. */
function counting() {
  const calls: string[] = [];
  let hold: Promise<void> | undefined;
  const ssh = Object.create(harness.ctx.ssh) as GatewayContext['ssh'];
  ssh.exec = async (target, argv, options) => {
    const result = await harness.ctx.ssh.exec(target, argv, options);
    if (argv.includes('pve-firewall')) {
      calls.push(argv.join(' '));
      await hold;
    }
    return result;
  };
  const ctx: GatewayContext = { ...harness.ctx, ssh };
  return {
    ctx,
    calls,
    /** Holds the answers of status calls that have read the node until `release`. */
    holdAnswers() {
      let release: () => void = () => undefined;
      hold = new Promise<void>((resolve) => {
        release = resolve;
      });
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

test('askers who come before a call begins share it; one begun before an asker wrote is never its answer', async () => {
  await restart('pve02');
  const { ctx, calls, holdAnswers } = counting();
  assert.deepEqual(await Promise.all([states(['pve02'], ctx), states(['pve02'], ctx), states(['pve02'], ctx)]), [
    { pve02: 'compiled' },
    { pve02: 'compiled' },
    { pve02: 'compiled' },
  ]);
  assert.equal(calls.length, 1, calls.join('\n'));
  assert.match(calls[0]!, /HostKeyAlias=pve02 .*UserKnownHostsFile=\/etc\/pve\/nodes\/pve02\/ssh_known_hosts/);

  // A call reads the node (compiled) but has not answered yet; then a rule is written and someone
  // asks: that asker must get a call of its own, begun after its write.
  const release = holdAnswers();
  const early = states(['pve02'], ctx);
  await waitFor('the early call to have read the node', async () => calls.length === 2);
  await pvesh('create', '/nodes/pve02/qemu/200/firewall/rules', '--type', 'in', '--action', 'ACCEPT', '--enable', '1');
  const late = states(['pve02'], ctx);
  release();
  assert.deepEqual(await early, { pve02: 'compiled' });
  assert.deepEqual(await late, { pve02: 'pending' });
  assert.equal(calls.length, 3);
});
