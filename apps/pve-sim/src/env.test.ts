import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseEnv } from '@glassdome/config';
import { simEnvSchema } from './env';

test('the README documents every PVE_SIM_* variable of the schema, and no other', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const documented = new Set([...readme.matchAll(/^\| `(PVE_SIM_[A-Z_]+)`/gm)].map((m) => m[1]));
  const declared = new Set(Object.keys(simEnvSchema.shape).filter((key) => key.startsWith('PVE_SIM_')));
  assert.deepEqual([...documented].sort(), [...declared].sort());
});

test('defaults match the contract and bad values are all named at once', () => {
  const env = parseEnv(simEnvSchema, {});
  assert.equal(env.PVE_SIM_PORT, 8006);
  assert.equal(env.PVE_SIM_SSH_PORT, 2222);
  assert.equal(env.PVE_SIM_TLS, true);
  assert.equal(env.PVE_SIM_TIME_SCALE, 1);
  assert.equal(parseEnv(simEnvSchema, { PVE_SIM_TLS: '0' }).PVE_SIM_TLS, false);
  assert.throws(
    () => parseEnv(simEnvSchema, { PVE_SIM_PORT: 'x', PVE_SIM_GUEST_SUBNET: '10.0.0.0' }),
    /PVE_SIM_PORT.*PVE_SIM_GUEST_SUBNET|PVE_SIM_GUEST_SUBNET.*PVE_SIM_PORT/,
  );
});
