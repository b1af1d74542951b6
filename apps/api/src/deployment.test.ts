import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';

type Service = { environment?: Record<string, string>; ports?: string[]; command?: string[] };

const compose = parse(readFileSync(new URL('../../../docker-compose.yml', import.meta.url), 'utf8'), {
  merge: true,
}) as { services: Record<string, Service> };

test('compose: the API gets no Proxmox credentials; the workers do', () => {
  const api = compose.services.api!;
  for (const name of ['PROXMOX_TOKEN_SECRET', 'PROXMOX_SSH_KEY_FILE', 'PROXMOX_URL', 'PROXMOX_TOKEN_ID']) {
    assert.ok(!(name in (api.environment ?? {})), `the API must not receive ${name}`);
  }
  for (const worker of ['installer', 'gateway', 'overseer']) {
    assert.ok('PROXMOX_TOKEN_SECRET' in (compose.services[worker]!.environment ?? {}), `${worker} needs the token`);
  }
});

test('compose: the API is published on loopback unless told otherwise, and Redis needs a password', () => {
  // Compose's own interpolation, written out: the host address defaults to loopback.
  assert.deepEqual(compose.services.api!.ports, [`\${API_PUBLISH_ADDRESS:-127.0.0.1}:8001:8001`]);
  assert.ok(compose.services.redis!.command!.includes('--requirepass'));
  for (const name of ['api', 'installer', 'gateway', 'overseer']) {
    assert.match(compose.services[name]!.environment!.REDIS_URL!, /^redis:\/\/:\$\{REDIS_PASSWORD/);
  }
});
