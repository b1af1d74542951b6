import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { OS_NAMES, OS_PROFILES } from './spec/os-profiles';
import { DEFAULT_QUOTAS } from './spec/quotas';

const docs = readFileSync(new URL('../../../docs/labs.md', import.meta.url), 'utf8');

test('docs/labs.md lists every OS profile with the values the code uses', () => {
  for (const os of OS_NAMES) {
    const profile = OS_PROFILES[os];
    const row = `| ${os} | ${profile.defaultUser} | ${profile.cpus} | ${profile.memoryMiB} | ${profile.diskGiB} | ${profile.minMemoryMiB} | ${profile.minDiskGiB} |`;
    assert.ok(docs.includes(row), `missing or stale row: ${row}`);
  }
});

test('docs/labs.md states the default quotas the code uses', () => {
  assert.ok(docs.includes(`| VMs (after \`count\` × \`copies\`) | ${DEFAULT_QUOTAS.maxVms} |`));
  assert.ok(docs.includes(`| vCPUs | ${DEFAULT_QUOTAS.maxCpus} |`));
  assert.ok(docs.includes(`| memory | ${DEFAULT_QUOTAS.maxMemoryMiB} MiB`));
  assert.ok(docs.includes(`| copies | ${DEFAULT_QUOTAS.maxCopies} |`));
  assert.ok(docs.includes(`| ttl | ${DEFAULT_QUOTAS.maxTtlSeconds / 86400} days |`));
});
