import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { coalesced } from './coalesce';

test('calls of one turn share the first load, calls made while it is in flight the next, each its own answer', async () => {
  const loads: string[][] = [];
  const load = coalesced(async (group: string, keys: string[]) => {
    loads.push([group, ...keys]);
    await sleep(20);
    return keys.map((key) => `${group}/${key}`);
  });
  const sameTurn = [load('lab-a', 'one'), load('lab-a', 'two'), load('lab-b', 'three')];
  // Made once the first loads are in flight: they wait for the next load of their group.
  await sleep(5);
  const later = [load('lab-a', 'four'), load('lab-a', 'five')];
  assert.deepEqual(await Promise.all([...sameTurn, ...later]), [
    'lab-a/one',
    'lab-a/two',
    'lab-b/three',
    'lab-a/four',
    'lab-a/five',
  ]);
  assert.deepEqual(loads, [
    ['lab-a', 'one', 'two'],
    ['lab-b', 'three'],
    ['lab-a', 'four', 'five'],
  ]);
  assert.equal(await load('lab-a', 'six'), 'lab-a/six', 'a call after every load ended starts its own');
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
  first.catch(() => undefined);
  await sleep(1);
  const second = load('g', 2);
  await assert.rejects(first, /database away/);
  assert.equal(await second, 4);
});
