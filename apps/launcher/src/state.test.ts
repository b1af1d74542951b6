import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generatedSecrets, simulatorSecrets } from './state';

const dir = mkdtempSync(join(tmpdir(), 'gd-launcher-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('secrets are generated once, kept owner-only, and the same ones come back at every start', () => {
  const none = generatedSecrets(dir, { adminKey: false, secretKey: false });
  assert.deepEqual(none.vars, {});
  const first = generatedSecrets(dir, { adminKey: true, secretKey: true });
  assert.match(first.vars.GLASSDOME_ADMIN_KEY!, /^gd_admin_[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(first.vars.GLASSDOME_SECRET_KEY!, 'base64').length, 32);
  assert.equal(statSync(first.path).mode & 0o777, 0o600);
  const again = generatedSecrets(dir, { adminKey: true, secretKey: true });
  assert.deepEqual(again.vars, first.vars);
  assert.match(readFileSync(first.path, 'utf8'), /^# Secrets `pnpm start` generated/);
});

test("the simulator's secrets are kept beside its saved state", () => {
  const secrets = simulatorSecrets(dir);
  assert.deepEqual(simulatorSecrets(dir), secrets);
  assert.equal(statSync(join(dir, 'pve-sim-secrets.json')).mode & 0o777, 0o600);
});
