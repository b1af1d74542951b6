import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '@glassdome/config';
import { envFileOf, launcherSettings, mergeEnv, missingForProxmox, readSources, sourceOf } from './settings';

const dir = mkdtempSync(join(tmpdir(), 'gd-launcher-settings-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the environment beats the env file, which beats generated secrets; empty counts as unset', () => {
  const sources = {
    real: { API_PORT: '9001', GLASSDOME_ADMIN_KEY: '' },
    file: { API_PORT: '9002', GLASSDOME_ADMIN_KEY: 'from-the-file-0123456789abcdef', PROXMOX_NODE: 'pve7' },
    generated: { GLASSDOME_ADMIN_KEY: 'generated-0123456789abcdefghij', GLASSDOME_SECRET_KEY: 's' },
  };
  const merged = mergeEnv(sources);
  assert.equal(merged.API_PORT, '9001');
  assert.equal(merged.GLASSDOME_ADMIN_KEY, 'from-the-file-0123456789abcdef');
  assert.equal(merged.PROXMOX_NODE, 'pve7');
  assert.equal(merged.GLASSDOME_SECRET_KEY, 's');
  assert.equal(sourceOf('API_PORT', sources), 'environment');
  assert.equal(sourceOf('GLASSDOME_ADMIN_KEY', sources), 'env file');
  assert.equal(sourceOf('GLASSDOME_SECRET_KEY', sources), 'generated');
  assert.equal(sourceOf('NOWHERE', sources), undefined);
});

test('the env file is GLASSDOME_ENV_FILE (which must exist), else glassdome.env in the state directory if present', () => {
  assert.deepEqual(envFileOf({}, dir), { path: join(dir, 'glassdome.env'), present: false });
  writeFileSync(join(dir, 'glassdome.env'), "PROXMOX_URL=https://pve.example:8006\nDATABASE_URL='postgres://a@b/c'\n");
  const found = envFileOf({}, dir);
  assert.equal(found.present, true);
  assert.deepEqual(readSources({}, found).file, {
    PROXMOX_URL: 'https://pve.example:8006',
    DATABASE_URL: 'postgres://a@b/c',
  });
  assert.throws(
    () => envFileOf({ GLASSDOME_ENV_FILE: join(dir, 'missing.env') }, dir),
    (error: Error) => error instanceof ConfigError && /GLASSDOME_ENV_FILE names .*missing\.env/.test(error.message),
  );
});

test("the launcher's settings: defaults for pnpm start, and bad values named", () => {
  const settings = launcherSettings({});
  assert.equal(settings.API_PORT, 8001);
  assert.equal(settings.GLASSDOME_INSTALLERS, 2);
  assert.equal(settings.PVE_SIM_TIME_SCALE, 0.25);
  assert.equal(settings.LOG_LEVEL, 'warn');
  assert.equal(settings.PROXMOX_URL, undefined, 'no PROXMOX_URL: the simulator');
  assert.throws(
    () => launcherSettings({ GLASSDOME_INSTALLERS: 'two', PROXMOX_URL: 'pve' }),
    /PROXMOX_URL Invalid URL; GLASSDOME_INSTALLERS /,
  );
});

test('a real cluster needs a token secret and a way to trust its certificate', () => {
  assert.deepEqual(missingForProxmox({ PROXMOX_URL: 'https://pve:8006' }), [
    'PROXMOX_TOKEN_SECRET is required with PROXMOX_URL',
    'PROXMOX_TLS_FINGERPRINT (or PROXMOX_CA_FILE) is required to trust the Proxmox certificate',
  ]);
  assert.deepEqual(
    missingForProxmox({ PROXMOX_URL: 'https://pve:8006', PROXMOX_TOKEN_SECRET: 'x', PROXMOX_CA_FILE: '/ca.pem' }),
    [],
  );
});
