import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseEnv } from '@glassdome/config';
import { overseerEnv } from './env';

test('defaults: 30 s scans, destroy-orphan and delete-vnet off, three attempts before the breaker opens', () => {
  const env = parseEnv(overseerEnv, {});
  assert.equal(env.OVERSEER_SCAN_SECONDS, 30);
  assert.deepEqual([...env.OVERSEER_REMEDIATIONS].sort(), [
    'expire-lab',
    'reboot-vm',
    'reclone-vm',
    'release-network',
    'restore-firewall',
    'rewait-agent',
    'start-vm',
  ]);
  assert.equal(env.OVERSEER_REMEDIATION_MAX_ATTEMPTS, 3);
  assert.deepEqual(env.OVERSEER_WEBHOOK_URLS, []);
});

test('lists parse, and every bad variable is named at once', () => {
  const env = parseEnv(overseerEnv, {
    OVERSEER_REMEDIATIONS: 'start-vm, destroy-orphan',
    OVERSEER_WEBHOOK_URLS: 'https://a.example/hook, https://b.example/hook',
  });
  assert.deepEqual([...env.OVERSEER_REMEDIATIONS], ['start-vm', 'destroy-orphan']);
  assert.equal(env.OVERSEER_WEBHOOK_URLS.length, 2);
  assert.equal(parseEnv(overseerEnv, { OVERSEER_REMEDIATIONS: 'none' }).OVERSEER_REMEDIATIONS.size, 0);
  assert.throws(
    () =>
      parseEnv(overseerEnv, {
        OVERSEER_REMEDIATIONS: 'start-vm,teleport-vm',
        OVERSEER_STORAGE_THRESHOLD: '1.5',
        OVERSEER_WEBHOOK_URLS: 'not a url',
      }),
    (error: ConfigError) =>
      error instanceof ConfigError &&
      ['OVERSEER_REMEDIATIONS', 'OVERSEER_STORAGE_THRESHOLD', 'OVERSEER_WEBHOOK_URLS'].every((name) =>
        error.problems.some((problem) => problem.startsWith(name)),
      ),
  );
});
