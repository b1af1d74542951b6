/**
 * The isolation check starts probing once pve-firewall has compiled the lab's rules, as the nodes
 * say through the gateway (`pve-firewall status`), not a whole FIREWALL_APPLY_SECONDS after the last
 * firewall write. Here the installer is told the period is a minute while the simulator compiles
 * every 2 s: waiting out the period would hold the lab for over 70 s; asking, it is ready in seconds.
 * (That the answer holds back until the compile is the gateway's firewall-status test.)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Harness, startHarness } from './harness';
import { labClient } from './lab-client';

/** The simulator's pve-firewall period, in ms of real time (200 s at its 0.01 time scale). */
const COMPILE_EVERY_MS = 2_000;

let harness: Harness;
before(async () => {
  harness = await startHarness(
    { installers: 1, env: { FIREWALL_APPLY_SECONDS: '60', ISOLATION_CHECK_SECONDS: '20' } },
    { PVE_SIM_LATENCIES: JSON.stringify({ firewallUpdate: COMPILE_EVERY_MS * 100 }) },
  );
});
const { eventsOf, close } = labClient(() => harness);
after(async () => {
  close();
  await harness?.stop();
});

test('a lab is ready as soon as its rules are compiled, not a whole firewall period after the last write', async () => {
  const accepted = await harness.api('POST', '/api/v1/labs', {
    name: 'compiled',
    networks: [{ name: 'lan', cidr: '10.20.1.0/24', egress: 'deny' }],
    rules: [{ from: 'lan', to: 'web', ports: ['tcp/22'] }],
    vms: [
      { name: 'web', os: 'ubuntu-22.04', networks: [{ name: 'lan', ip: '10.20.1.10' }] },
      { name: 'client', os: 'ubuntu-22.04', networks: [{ name: 'lan', ip: '10.20.1.20' }] },
    ],
  });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const id = String(accepted.body.id);
  // Waiting out the minute the installer was told would take 72 s after the last write.
  const lab = (await harness.waitForLab(id, 45_000)) as { status: string; isolation: { agreed: boolean } | null };
  assert.equal(lab.status, 'ready', JSON.stringify(lab));
  assert.ok(lab.isolation?.agreed);

  const check = (await eventsOf(id)).find((event) => event.kind === 'lab.isolation.agreed');
  assert.ok(check, 'the check recorded its result');
  const timing = check.data?.timing as { firewallWaitMs: number; probingMs: number };
  assert.ok(timing.firewallWaitMs <= COMPILE_EVERY_MS * 3, `at most about one compile: ${timing.firewallWaitMs} ms`);
});
