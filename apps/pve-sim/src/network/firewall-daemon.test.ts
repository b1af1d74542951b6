import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Simulator } from '../sim';
import { clusterEnabled, firewallState, vmFirewall } from './firewall-config';
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

test("the GUI's anti-lockout enable (a timestamp) counts for 60 s only", () => {
  const now = Date.now();
  assert.equal(clusterEnabled({ enable: Math.floor(now / 1000) - 5 }, now), true);
  assert.equal(clusterEnabled({ enable: Math.floor(now / 1000) - 120 }, now), false);
  assert.equal(clusterEnabled({}, now), false, 'off on a fresh install');
  const state = structuredClone(sim.state);
  firewallState(state).cluster.options.enable = Math.floor(now / 1000) - 120;
  assert.equal(compileFirewall(state, now).enabled, false);
});
