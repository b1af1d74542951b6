import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { vars } from '@glassdome/config';
import { launcherEnv, launcherLocations } from './env';

test("every variable of the launcher's own is in its README's table", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const shared = new Set(Object.keys({ ...vars.backing, ...vars.api }));
  const own = [...Object.keys(launcherLocations.shape), ...Object.keys(launcherEnv.shape)].filter(
    (name) => !shared.has(name) || name === 'LOG_LEVEL',
  );
  for (const name of own) {
    if (name === 'PROXMOX_URL') continue;
    assert.match(readme, new RegExp(`^\\| \`${name}\` +\\|`, 'm'), `${name} is not documented`);
  }
});
