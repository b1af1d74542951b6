import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { OS_NAMES, OS_PROFILES } from './spec/os-profiles';
import { DEFAULT_QUOTAS } from './spec/quotas';

// Table rows as lists of trimmed cells, so the formatter's column padding does not matter.
const rows = readFileSync(new URL('../../../docs/labs.md', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.startsWith('|'))
  .map((line) =>
    line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim()),
  );

function rowStartingWith(first: string): string[] | undefined {
  return rows.find((cells) => cells[0] === first);
}

test('docs/labs.md lists every OS profile with the values the code uses', () => {
  for (const os of OS_NAMES) {
    const profile = OS_PROFILES[os];
    const expected = [profile.defaultUser, profile.cpus, profile.memoryMiB, profile.diskGiB]
      .concat([profile.minMemoryMiB, profile.minDiskGiB])
      .map(String);
    assert.deepEqual(rowStartingWith(os), [os, ...expected]);
  }
});

test('docs/labs.md states the default quotas the code uses', () => {
  assert.equal(rowStartingWith('VMs (after `count` × `copies`)')?.[1], String(DEFAULT_QUOTAS.maxVms));
  assert.equal(rowStartingWith('vCPUs')?.[1], String(DEFAULT_QUOTAS.maxCpus));
  assert.match(rowStartingWith('memory')?.[1] ?? '', new RegExp(`^${DEFAULT_QUOTAS.maxMemoryMiB} MiB`));
  assert.equal(rowStartingWith('copies')?.[1], String(DEFAULT_QUOTAS.maxCopies));
  assert.equal(rowStartingWith('ttl')?.[1], `${DEFAULT_QUOTAS.maxTtlSeconds / 86400} days`);
});
