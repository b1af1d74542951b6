import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Simulator } from '../sim';
import { clusterEnabled, firewallState, hostFirewall, vmFirewall } from './firewall-config';
import { compileFirewall } from './firewall-daemon';

const sim = new Simulator({ timeScale: 0.01, seed: 3 });
after(() => sim.stop());

/** Resolves once the daemon has compiled after `since` (polling, never a wall-clock threshold). */
async function nextCompile(since: number): Promise<void> {
  while (sim.firewall.active.compiledAt <= since) await new Promise((resolve) => setTimeout(resolve, 5));
}

test('a firewall change is active only from the next compile of the update loop', async () => {
  const before = sim.firewall.active;
  vmFirewall(sim.state, 9000, true).options.enable = 1;
  firewallState(sim.state).cluster.options.enable = 1;
  assert.equal(sim.firewall.active.enabled, false, 'not compiled yet');
  assert.equal(Object.hasOwn(sim.firewall.active.vms, '9000'), false, 'no chains for the VM yet');
  await nextCompile(before.compiledAt);
  const compiled = sim.firewall.active;
  assert.equal(compiled.enabled, true);
  assert.equal(compiled.vms['9000']?.scope.options.enable, 1);
  assert.deepEqual(compiled.vms['9000']?.nets, { net0: false }, 'net0 of the template has no firewall=1');
});

test('the compiled ruleset is a copy: later edits do not leak into it', () => {
  sim.firewall.compileNow();
  vmFirewall(sim.state, 9000).rules.push({ type: 'in', action: 'DROP', enable: 1 });
  assert.equal(sim.firewall.active.vms['9000']?.scope.rules.length, 0);
});

test('stopping pve-firewall on a node takes its rules away at once; starting compiles at once', () => {
  assert.equal(sim.firewall.runningOn('pve01'), true);
  sim.firewall.stopService('pve01');
  assert.equal(sim.firewall.runningOn('pve01'), false);
  sim.firewall.startService('pve01');
  assert.equal(sim.firewall.runningOn('pve01'), true);
  assert.equal(sim.firewall.active.vms['9000']?.scope.rules.length, 1);
});

test('the next compile of the update loop clears pending changes', async () => {
  firewallState(sim.state).cluster.options.enable = 1;
  sim.firewall.compileNow();
  const since = sim.firewall.active.compiledAt;
  assert.equal(sim.firewall.pendingOn('pve01'), false);
  vmFirewall(sim.state, 9000, true).rules.push({ type: 'out', action: 'REJECT', enable: 1 });
  assert.equal(sim.firewall.pendingOn('pve01'), true);
  await nextCompile(since);
  assert.equal(sim.firewall.pendingOn('pve01'), false);
});

test("the GUI's anti-lockout enable (a timestamp) counts for 60 s only", () => {
  const now = Date.now();
  assert.equal(clusterEnabled({ enable: Math.floor(now / 1000) - 5 }, now), true);
  assert.equal(clusterEnabled({ enable: Math.floor(now / 1000) - 120 }, now), false);
  assert.equal(clusterEnabled({}, now), false, 'off on a fresh install');
  const state = structuredClone(sim.state);
  firewallState(state).cluster.options.enable = Math.floor(now / 1000) - 120;
  assert.equal(compileFirewall(state, now).enabled, false);
});

/** A cluster of pve01 and pve02 whose pve-firewall updates every `firewallUpdate` ms (before scaling). */
function twoNodes(firewallUpdate: number): Simulator {
  return new Simulator({ timeScale: 0.01, seed: 3, nodes: ['pve01', 'pve02'], latencies: { firewallUpdate } });
}

test('pendingOn: a node has pending changes when a compile now would change its own rules', () => {
  // No update of its own during the test: only compileNow compiles.
  const cluster = twoNodes(1e9);
  try {
    const { state, firewall } = cluster;
    const template = state.vms['9000']!;
    const addVm = (vmid: number, node: string) => {
      state.vms[String(vmid)] = { ...structuredClone(template), vmid, node };
      vmFirewall(state, vmid, true).options.enable = 1;
    };
    addVm(101, 'pve01');
    addVm(201, 'pve02');
    const pending = () => [firewall.pendingOn('pve01'), firewall.pendingOn('pve02')];
    firewall.compileNow();
    assert.deepEqual(pending(), [false, false], 'firewall off: nothing compiled, nothing pending');
    vmFirewall(state, 101).rules.push({ type: 'in', action: 'DROP', enable: 1 });
    assert.deepEqual(pending(), [false, false], 'off before and after: still nothing to compile');

    firewallState(state).cluster.options.enable = 1;
    assert.deepEqual(pending(), [true, true], 'switching the cluster on counts everywhere');
    firewall.compileNow();
    assert.deepEqual(pending(), [false, false]);

    vmFirewall(state, 101).rules.push({ type: 'in', action: 'ACCEPT', enable: 1, proto: 'tcp', dport: '22' });
    assert.deepEqual(pending(), [true, false], 'a rule on a VM of pve01 is pending on pve01 only');
    firewall.compileNow();
    vmFirewall(state, 101).rules[0]!.comment = 'only words';
    vmFirewall(state, 101).rules.push({ type: 'in', action: 'DROP', enable: 0 });
    assert.deepEqual(pending(), [false, false], 'comments and disabled rules compile to nothing');

    state.vms['201']!.config.net0 = `${state.vms['201']!.config.net0},firewall=1`;
    assert.deepEqual(pending(), [false, true], 'a NIC firewall flag counts on its node');
    firewall.compileNow();
    state.vms['201']!.node = 'pve01';
    assert.deepEqual(pending(), [true, true], 'a VM that moved changes both nodes');
    firewall.compileNow();
    addVm(202, 'pve02');
    assert.deepEqual(pending(), [false, true], 'a new VM with a firewall config');
    firewall.compileNow();
    delete state.vms['202'];
    assert.deepEqual(pending(), [false, true], 'a VM gone');
    firewall.compileNow();

    vmFirewall(state, 101).options.enable = 0;
    firewall.compileNow();
    vmFirewall(state, 101).rules.push({ type: 'out', action: 'DROP', enable: 1 });
    assert.deepEqual(pending(), [false, false], 'a VM whose firewall is off has no chains to change');
    vmFirewall(state, 101).ipsets.blocked = { entries: [{ cidr: '10.9.0.0/16' }] };
    assert.deepEqual(pending(), [true, false], 'its IPSets are built all the same');
    firewall.compileNow();

    hostFirewall(state, 'pve02', true).rules.push({ type: 'in', action: 'ACCEPT', enable: 1, macro: 'SSH' });
    assert.deepEqual(pending(), [false, true], 'host.fw counts on its own node');
    firewall.compileNow();
    firewallState(state).cluster.ipsets.lab = { entries: [{ cidr: '10.1.0.0/24' }] };
    assert.deepEqual(pending(), [true, true], 'a cluster IPSet counts on every node');
    firewall.compileNow();
    firewallState(state).cluster.options.enable = Math.floor(Date.now() / 1000);
    assert.deepEqual(pending(), [false, false], 'the anti-lockout timestamp is the same switch, still on');
    assert.equal(firewall.pendingOn('pve01', Date.now() + 61_000), true, 'it lapses after 60 s: the rules would go');
  } finally {
    cluster.stop();
  }
});

test('each node keeps its own snapshot: a service start, compileNow(node) and the loop compile one node', async () => {
  // A 1 s period (scaled): pve01 next compiles after 1 s, pve02 half a period after the start.
  const cluster = twoNodes(100_000);
  try {
    const { state, firewall } = cluster;
    const started = [firewall.activeOn('pve01').compiledAt, firewall.activeOn('pve02').compiledAt];
    const template = state.vms['9000']!;
    state.vms['201'] = { ...structuredClone(template), vmid: 201, node: 'pve02' };
    vmFirewall(state, 201, true).options.enable = 1;
    firewallState(state).cluster.options.enable = 1;

    while (firewall.activeOn('pve02').compiledAt === started[1]) await new Promise((r) => setTimeout(r, 5));
    assert.equal(firewall.activeOn('pve01').compiledAt, started[0], 'pve01 has not compiled at pve02 phase');
    assert.equal(firewall.activeOn('pve02').enabled, true);
    assert.equal(firewall.activeOn('pve01').enabled, false, 'pve01 still has the old rules');
    assert.deepEqual(Object.keys(firewall.activeOn('pve02').vms).sort(), ['201'], 'its own VMs only');
    assert.deepEqual(Object.keys(firewall.activeOn('pve01').vms), [], 'VM 9000 had no firewall config then');

    vmFirewall(state, 201).rules.push({ type: 'in', action: 'DROP', enable: 1 });
    firewall.startService('pve01');
    assert.deepEqual([firewall.pendingOn('pve01'), firewall.pendingOn('pve02')], [false, true]);
    firewall.compileNow('pve02');
    assert.equal(firewall.pendingOn('pve02'), false);
    assert.equal(firewall.activeOn('pve02').vms['201']?.scope.rules.length, 1);
    assert.equal(firewall.active, firewall.activeOn('pve01'), 'active: the node the API answers as');
  } finally {
    cluster.stop();
  }
});
