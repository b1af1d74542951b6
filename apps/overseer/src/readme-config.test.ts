import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { vars } from '@glassdome/config';
import { overseerEnv } from './env';

test("every overseer variable is in the README's configuration table", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const shared = new Set(Object.keys({ ...vars.backing, ...vars.proxmox, ...vars.worker, ...vars.network }));
  const own = Object.keys(overseerEnv.shape).filter((name) => !shared.has(name));
  assert.ok(own.length > 10);
  for (const name of own) assert.match(readme, new RegExp(`^\\| \`${name}\` +\\|`, 'm'), `${name} is not documented`);
});
