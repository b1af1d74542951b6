import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { api, backing, network, proxmox, quotas, templates, worker } from './vars';

test('every shared variable is documented in the README configuration table', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  for (const name of Object.keys({ ...backing, ...proxmox, ...api, ...worker, ...quotas, ...templates, ...network })) {
    assert.ok(readme.includes(`\`${name}\``), `${name} is missing from README.md`);
  }
});
