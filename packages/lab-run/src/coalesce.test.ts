import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { coalesced } from './coalesce';

test('calls made while a load is in flight go together in the next one, each its own answer', async () => {
  const loads: string[][] = [];
  const load = coalesced(async (group: string, keys: string[]) => {
    loads.push([group, ...keys]);
    await sleep(20);
    return keys.map((key) => `${group}/${key}`);
  });
  const first = load('lab-a', 'one');
  const waiting = [load('lab-a', 'two'), load('lab-a', 'three'), load('lab-b', 'four')];
  assert.deepEqual(await Promise.all([first, ...waiting]), ['lab-a/one', 'lab-a/two', 'lab-a/three', 'lab-b/four']);
  // The first call did not wait for company; the two made during its load shared the next.
  assert.deepEqual(loads, [
    ['lab-a', 'one'],
    ['lab-b', 'four'],
    ['lab-a', 'two', 'three'],
  ]);
  assert.equal(await load('lab-a', 'five'), 'lab-a/five', 'a call after every load ended starts its own');
});

test('a failed load fails its calls only; the next load still runs', async () => {
  let fail = true;
  const load = coalesced(async (_group: string, keys: number[]) => {
    await sleep(10);
    if (fail) {
      fail = false;
      throw new Error('database away');
    }
    return keys.map((key) => key * 2);
  });
  const first = load('g', 1);
  const second = load('g', 2);
  await assert.rejects(first, /database away/);
  assert.equal(await second, 4);
});
