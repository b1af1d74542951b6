import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestDatabase, startProcess } from '@glassdome/testkit';

const root = new URL('../../../', import.meta.url).pathname;

async function startInstaller(env: Record<string, string>) {
  const child = startProcess(process.execPath, ['--import', 'tsx', 'apps/installer/src/main.ts'], {
    cwd: root,
    name: 'installer',
    env: { PROXMOX_TOKEN_SECRET: 'unused', GUEST_SSH_KEY_FILE: '/nonexistent', ...env },
  });
  const code = await child.exited;
  const lines = child.output().trim().split('\n');
  return { code, lines };
}

test('a bad variable stops the installer with one line naming every problem', async () => {
  const { code, lines } = await startInstaller({ DATABASE_URL: 'mysql://nope', QUEUE_PREFIX: 'no-braces' });
  assert.equal(code, 78);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /^installer: invalid configuration: /);
  assert.match(lines[0]!, /DATABASE_URL must be a postgres:\/\/ URL/);
  assert.match(lines[0]!, /QUEUE_PREFIX must be a hash tag/);
});

test('Postgres down: the installer says which service is down and how to start it', async () => {
  const { code, lines } = await startInstaller({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/glassdome' });
  assert.equal(code, 1);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /Postgres at 127\.0\.0\.1:1\/glassdome is not available \(ECONNREFUSED\); start it/);
});

test('Redis down: the installer names Redis and how to start it', async () => {
  // Postgres is checked first: a database of its own, so that check passes on any machine (the
  // default DATABASE_URL names a `glassdome` database that need not exist) and Redis is what fails.
  const database = await createTestDatabase('installer_redis_down');
  try {
    const { code, lines } = await startInstaller({ DATABASE_URL: database.url, REDIS_URL: 'redis://127.0.0.1:1' });
    assert.equal(code, 1);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /Redis at 127\.0\.0\.1:1 is not available .*start it/);
  } finally {
    await database.drop();
  }
});
