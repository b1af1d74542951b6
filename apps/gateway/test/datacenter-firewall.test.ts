/**
 * The datacenter firewall's switch, which every lab's per-VM rules depend on: a lab network is made
 * only while it is on. Off, the gateway switches it on (FIREWALL_AUTO_ENABLE) or refuses for good
 * naming what to do; switched off behind Glassdome's back, the next check after RECHECK_MS notices.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PermanentError } from '@glassdome/queue';
import type { GatewayContext } from '../src/context';
import { ensureDatacenterFirewall, RECHECK_MS } from '../src/datacenter-firewall';
import type { GatewayEnv } from '../src/env';
import { type GatewayHarness, startGatewayHarness } from './harness';

let harness: GatewayHarness;

before(async () => {
  harness = await startGatewayHarness('datacenter-firewall', (sim) => ({
    PROXMOX_NODE: sim.info.node,
    FIREWALL_AUTO_ENABLE: true,
  }));
});

after(() => harness?.close());

function withEnv(env: Partial<GatewayEnv>): GatewayContext {
  return { ...harness.ctx, env: { ...harness.ctx.env, ...env } };
}

async function switchState(): Promise<number> {
  const { stdout } = await harness.ctx.ssh.exec(harness.ctx.node, [
    'pvesh',
    'get',
    '/cluster/firewall/options',
    '--output-format',
    'json',
  ]);
  return Number((JSON.parse(stdout) as { enable?: number | string }).enable ?? 0);
}

async function setSwitch(value: 0 | 1): Promise<void> {
  await harness.ctx.ssh.exec(harness.ctx.node, [
    'pvesh',
    'set',
    '/cluster/firewall/options',
    '--enable',
    String(value),
  ]);
}

test('off, and not allowed to switch it on: refused for good, naming what to do, and left off', async () => {
  await setSwitch(0);
  const ctx = withEnv({ FIREWALL_AUTO_ENABLE: false });
  await assert.rejects(
    ensureDatacenterFirewall(ctx),
    (error: unknown) =>
      error instanceof PermanentError && /datacenter firewall is off.*FIREWALL_AUTO_ENABLE=1/.test(error.message),
  );
  assert.equal(await switchState(), 0);
  // A failed check is not remembered: once someone switches it on, the same context goes on.
  await setSwitch(1);
  await ensureDatacenterFirewall(ctx);
});

test('off and allowed: switched on before any network; switched off behind our back, noticed on the next check', async () => {
  await setSwitch(0);
  const ctx = withEnv({ FIREWALL_AUTO_ENABLE: true });
  const start = Date.now();
  await Promise.all([ensureDatacenterFirewall(ctx, start), ensureDatacenterFirewall(ctx, start)]);
  assert.equal(await switchState(), 1);
  await setSwitch(0);
  await ensureDatacenterFirewall(ctx, start + 1_000);
  assert.equal(await switchState(), 0, 'a check counts for a while');
  await ensureDatacenterFirewall(ctx, start + RECHECK_MS + 1);
  assert.equal(await switchState(), 1, 'and is made again after it');
});
