/**
 * A job's signal reaches every Proxmox call and wait: a client bound with `withSignal` stops task
 * waits, guest-agent waits and retry backoffs as soon as the signal fires, with the signal's reason,
 * and sends nothing once it has fired.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProxmox } from '../src/index';
import { simAndClient } from './sim';

const bed = simAndClient();

class StopNow extends Error {
  override name = 'StopNow';
}

/** Aborts after `ms` with a StopNow reason. */
function abortAfter(ms: number): { signal: AbortSignal; reason: StopNow } {
  const controller = new AbortController();
  const reason = new StopNow(`stopped after ${ms} ms`);
  setTimeout(() => controller.abort(reason), ms);
  return { signal: controller.signal, reason };
}

async function settleTime<T>(promise: Promise<T>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await promise;
    return { error: undefined, ms: Date.now() - started };
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
}

test('a guest-agent wait stops when the signal fires', async () => {
  await bed.pve.tasks.wait(
    await bed.pve.vms.clone({ sourceVmid: bed.sim.info.templateVmid, newid: 5302, name: 'mute', full: false }),
  );
  await bed.sim.setFaults({ agentNeverUp: 5302 });
  try {
    await bed.pve.tasks.wait(await bed.pve.vms.start(5302));
    const { signal, reason } = abortAfter(300);
    const { error } = await settleTime(bed.pve.withSignal(signal).agent.waitForIp(5302, { deadlineMs: 120_000 }));
    assert.equal(error, reason);
  } finally {
    await bed.sim.setFaults({ agentNeverUp: null });
  }
});

// Last of the tests that clone: the slow clone it leaves keeps the storage locked.
test('a task wait stops when the signal fires, with its reason', async () => {
  await bed.sim.setFaults({ slowTaskFactor: 100_000 });
  try {
    const upid = await bed.pve.vms.clone({
      sourceVmid: bed.sim.info.templateVmid,
      newid: 5301,
      name: 'slow',
      full: true,
    });
    const { signal, reason } = abortAfter(300);
    const { error, ms } = await settleTime(bed.pve.withSignal(signal).tasks.wait(upid, { deadlineMs: 120_000 }));
    assert.equal(error, reason);
    assert.ok(ms < 30_000, `stopped long before the deadline (${ms} ms)`);
  } finally {
    await bed.sim.setFaults({ slowTaskFactor: 1 });
  }
});

test('retries of a failing call stop when the signal fires, and nothing is sent after it', async () => {
  const patient = createProxmox(bed.sim.config({ retry: { attempts: 1_000, baseDelayMs: 200, maxDelayMs: 200 } }));
  await bed.sim.setFaults({ rate500: 1 });
  try {
    const { signal, reason } = abortAfter(500);
    const { error } = await settleTime(patient.withSignal(signal).vms.list());
    assert.equal(error, reason);
    const before = await patient
      .withSignal(signal)
      .vms.status(5302)
      .catch((e: unknown) => e);
    assert.equal(before, reason, 'a call under a fired signal is refused before it is sent');
  } finally {
    await bed.sim.setFaults({ rate500: 0 });
    patient.close();
  }
});

test('a bound view leaves the original client unaffected', async () => {
  const controller = new AbortController();
  controller.abort(new StopNow('gone'));
  await assert.rejects(bed.pve.withSignal(controller.signal).vms.list(), StopNow);
  assert.ok(Array.isArray(await bed.pve.vms.list()));
});
