/**
 * `pnpm start` stopped and started again: the admin key neither changes nor multiplies. The launcher
 * runs as a user would run it, on a state directory, database and Redis prefix of this test's own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot, tsxArgs } from '@glassdome/stack';
import {
  createRedisPrefix,
  createTestDatabase,
  freePort,
  startProcess,
  type TestDatabase,
  type TestRedis,
} from '@glassdome/testkit';

let database: TestDatabase;
let redis: TestRedis;
let stateDir: string;
let env: Record<string, string>;

before(async () => {
  database = await createTestDatabase('launcher');
  redis = createRedisPrefix('launcher');
  stateDir = mkdtempSync(join(tmpdir(), 'gd-launcher-'));
  const port = await freePort();
  env = {
    GLASSDOME_STATE_DIR: stateDir,
    GLASSDOME_ENV_FILE: '',
    GLASSDOME_ADMIN_KEY: '',
    API_PORT: String(port),
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: redis.prefix,
    PVE_SIM_TIME_SCALE: '0.01',
    GLASSDOME_INSTALLERS: '1',
  };
});

after(async () => {
  await database?.drop();
  await redis?.cleanup();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/** Starts `pnpm start`'s launcher, waits for its banner, answers the admin key it printed, then stops it. */
async function startOnce(extra: Record<string, string> = {}) {
  const launcher = startProcess(process.execPath, tsxArgs('apps/launcher/src/main.ts'), {
    cwd: repoRoot,
    name: 'launcher',
    env: { ...env, ...extra },
  });
  const apiUrl = `http://127.0.0.1:${extra.API_PORT ?? env.API_PORT}`;
  try {
    await launcher.waitForOutput('Ctrl-C stops everything.', 180_000);
    const shown = /^ {2}admin key: +(\S+) \((.+)\)$/m.exec(launcher.output());
    assert.ok(shown, launcher.output());
    const [, key, from] = shown;
    const keys = await fetch(`${apiUrl}/api/v1/keys`, { headers: { Authorization: `Bearer ${key}` } });
    assert.equal(keys.status, 200, 'the printed key works');
    const items = ((await keys.json()) as { items: { id: string; name: string; revokedAt: string | null }[] }).items;
    return { key: key!, from: from!, items, output: launcher.output() };
  } finally {
    assert.equal(await launcher.stop(30_000), 0, 'Ctrl-C (SIGTERM) stops everything cleanly');
  }
}

const live = (items: { name: string; revokedAt: string | null }[]) =>
  items.filter((item) => item.name === 'bootstrap-admin' && item.revokedAt === null);

test('without GLASSDOME_ADMIN_KEY, a restart prints the same generated key and there is still one admin key', async () => {
  const first = await startOnce();
  assert.match(first.key, /^gd_admin_/);
  assert.match(first.from, /^generated at the first start, kept in .*generated\.env$/);
  assert.match(first.output, /^ {2}simulator admin: +https:\/\/127\.0\.0\.1:\d+\/_sim/m);
  assert.match(first.output, /^ {2}guests' SSH: +port \d+ /m);
  assert.equal(live(first.items).length, 1);

  const second = await startOnce();
  assert.equal(second.key, first.key);
  const ids = (items: { id: string; revokedAt: string | null }[]) => items.map((item) => [item.id, item.revokedAt]);
  assert.deepEqual(ids(second.items), ids(first.items), 'the same one key, still live');
});

test('GLASSDOME_ADMIN_KEY is honoured and replaces the generated key rather than adding a second admin', async () => {
  const given = `gd_admin_given_${'k'.repeat(32)}`;
  const run = await startOnce({ GLASSDOME_ADMIN_KEY: given });
  assert.equal(run.key, given);
  assert.equal(run.from, 'from GLASSDOME_ADMIN_KEY');
  assert.equal(live(run.items).length, 1);
  assert.equal(run.items.length, 2, 'the generated key is listed, revoked');
});

test('GLASSDOME_ADMIN_KEY from the first start on: stopped and started again, the same key works and one bootstrap admin key is listed', async () => {
  // A state directory, database and Redis prefix of this test's own: nothing generated before it.
  const own = await createTestDatabase('launcher_given');
  const ownRedis = createRedisPrefix('launcher-given');
  const ownState = mkdtempSync(join(tmpdir(), 'gd-launcher-given-'));
  try {
    const extra = {
      GLASSDOME_STATE_DIR: ownState,
      DATABASE_URL: own.url,
      REDIS_URL: ownRedis.url,
      QUEUE_PREFIX: ownRedis.prefix,
      API_PORT: String(await freePort()),
      GLASSDOME_ADMIN_KEY: `gd_admin_${randomBytes(24).toString('base64url')}`,
    };
    const first = await startOnce(extra);
    const second = await startOnce(extra);
    for (const run of [first, second]) {
      assert.equal(run.key, extra.GLASSDOME_ADMIN_KEY, 'the given key is the one printed, and it works');
      assert.equal(run.from, 'from GLASSDOME_ADMIN_KEY');
      assert.deepEqual(
        run.items.map((item) => [item.name, item.revokedAt]),
        [['bootstrap-admin', null]],
        'exactly one key: the bootstrap admin, live',
      );
    }
    assert.equal(second.items[0]!.id, first.items[0]!.id, 'the same key row, not a new one');
  } finally {
    await own.drop();
    await ownRedis.cleanup();
    rmSync(ownState, { recursive: true, force: true });
  }
});
