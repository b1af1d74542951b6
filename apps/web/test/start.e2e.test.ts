/**
 * `pnpm start` serves the web UI at the address it prints: the launcher runs as a user runs it (on a
 * state directory, database and Redis prefix of this test's own), its banner's `web UI:` line is
 * followed, and the page, its script and a sign-in with the printed admin key work there.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  createRedisPrefix,
  createTestDatabase,
  freePort,
  type RunningProcess,
  startProcess,
  type TestDatabase,
  type TestRedis,
} from '@glassdome/testkit';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let database: TestDatabase;
let redis: TestRedis;
let stateDir: string;
let launcher: RunningProcess | undefined;

before(async () => {
  // What `pnpm start` does first: the UI is built when stale.
  execFileSync(process.execPath, [join(root, 'apps/web/scripts/build-if-stale.mjs')], { stdio: 'inherit' });
  database = await createTestDatabase('web_start');
  redis = createRedisPrefix('web-start');
  stateDir = mkdtempSync(join(tmpdir(), 'gd-web-start-'));
});

after(async () => {
  if (launcher) await launcher.stop(30_000);
  await database?.drop();
  await redis?.cleanup();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

test('pnpm start prints the web UI address, and the UI is served there and signs in with the printed key', async () => {
  launcher = startProcess(process.execPath, ['--import', 'tsx', join(root, 'apps/launcher/src/main.ts')], {
    cwd: root,
    name: 'launcher',
    env: {
      GLASSDOME_STATE_DIR: stateDir,
      GLASSDOME_ENV_FILE: '',
      GLASSDOME_ADMIN_KEY: '',
      API_PORT: String(await freePort()),
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: redis.prefix,
      GLASSDOME_INSTALLERS: '1',
    },
  });
  await launcher.waitForOutput('Ctrl-C stops everything.', 180_000);
  const output = launcher.output();
  const ui = /^ {2}web UI: +(http:\/\/\S+\/) /m.exec(output)?.[1];
  const key = /^ {2}admin key: +(\S+) /m.exec(output)?.[1];
  assert.ok(ui && key, output);

  const page = await fetch(ui);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /<title>Glassdome<\/title>/);
  const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(script, html);
  const js = await fetch(new URL(script, ui));
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  // A route of the app (a deep link) is the same page.
  assert.match(await (await fetch(new URL('labs/some-lab', ui))).text(), /<div id="root">/);

  const signIn = await fetch(new URL('api/v1/session', ui), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ apiKey: key }),
  });
  assert.equal(signIn.status, 201);
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
  assert.match(cookie, /^gd_session=/);
  const session = await fetch(new URL('api/v1/session', ui), { headers: { cookie } });
  assert.equal(session.status, 200);
  assert.equal(((await session.json()) as { role: string }).role, 'admin');

  assert.equal(await launcher.stop(30_000), 0, 'Ctrl-C (SIGTERM) stops everything cleanly');
  launcher = undefined;
});
