import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Simulator } from './sim';
import { allocateVolume } from './storage';

/** How long two allocations take when started together, in ms. */
async function twoAllocations(sim: Simulator, nodes: [string, string]): Promise<number> {
  const started = Date.now();
  await Promise.all(nodes.map((node, i) => allocateVolume(sim, node, 'local-lvm', 500 + i, 1024 ** 3)));
  return Date.now() - started;
}

test('local storages of two nodes lock apart: allocations on two nodes overlap, on one node they queue', async () => {
  // Each allocation holds its storage's flock for 200 ms.
  const sim = new Simulator({ timeScale: 1, nodes: ['pve01', 'pve02'], latencies: { diskAllocate: 200 } });
  const apart = await twoAllocations(sim, ['pve01', 'pve02']);
  const together = await twoAllocations(sim, ['pve01', 'pve01']);
  assert.ok(apart < 350, `two nodes took ${apart} ms`);
  assert.ok(together >= 400, `one node took ${together} ms`);
});
