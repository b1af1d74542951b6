/**
 * The web UI in a real Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against a
 * real stack of this test's own: simulator, API, installers, gateway, database and Redis prefix.
 * Screenshots of the main pages are taken on every run; they replace the committed ones in docs/ui/
 * only with UI_SCREENSHOTS=docs (a run otherwise writes them to a temporary directory, so a passing
 * suite leaves the tree as it found it).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import {
  addOsTemplates,
  createRedisPrefix,
  createTestDatabase,
  OS_TEMPLATE_VMIDS,
  type RunningStack,
  startSimulator,
  startStack,
  type TestDatabase,
  type TestRedis,
  type TestSimulator,
} from '@glassdome/testkit';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const web = fileURLToPath(new URL('..', import.meta.url));
const shots =
  process.env.UI_SCREENSHOTS === 'docs'
    ? fileURLToPath(new URL('../../../docs/ui/', import.meta.url))
    : join(tmpdir(), `glassdome-ui-${process.pid}`);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const AXE = readFileSync(fileURLToPath(import.meta.resolve('axe-core/axe.min.js')), 'utf8');

let sim: TestSimulator;
let database: TestDatabase;
let redis: TestRedis;
let stack: RunningStack;
let browser: Browser;
const keys: Record<'operator' | 'viewer', string> = { operator: '', viewer: '' };

async function asAdmin(method: string, path: string, body?: unknown) {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${stack.adminKey}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json().catch(() => undefined)) as Record<string, unknown> };
}

before(async () => {
  // The UI the API serves is built first when stale, as `pnpm start` does.
  execFileSync(process.execPath, [join(web, 'scripts/build-if-stale.mjs')], { stdio: 'inherit' });
  sim = await startSimulator({ tls: true });
  database = await createTestDatabase('web_ui');
  redis = createRedisPrefix('web-ui');
  stack = await startStack({
    sim: sim.info,
    databaseUrl: database.url,
    redisUrl: redis.url,
    queuePrefix: redis.prefix,
    env: { TEMPLATE_VMIDS: OS_TEMPLATE_VMIDS, SSH_TIMEOUT_SECONDS: '20' },
  });
  await addOsTemplates(sim.info, { grantClone: true });
  for (const role of ['operator', 'viewer'] as const) {
    const created = await asAdmin('POST', '/api/v1/keys', { name: `ui-${role}`, role });
    keys[role] = String(created.body.key);
  }
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  await sim?.stop();
  await database?.drop();
  await redis?.cleanup();
  if (process.env.UI_SCREENSHOTS !== 'docs') rmSync(shots, { recursive: true, force: true });
});

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  // bypassCSP only so that axe-core can be injected; the page itself runs under the API's CSP.
  const context = await browser.newContext({
    baseURL: stack.apiUrl,
    viewport: { width: 1280, height: 720 },
    bypassCSP: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return { context, page };
}

async function signIn(page: Page, key: string) {
  await page.goto('/');
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
}

/** axe-core in the page: no serious or critical violation (labels, contrast, roles, names). */
async function assertAccessible(page: Page, what: string) {
  await page.addScriptTag({ content: AXE });
  // A string, not a function: the test is compiled for Node, and this runs in the page.
  const violations = (await page.evaluate(`(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.slice(0, 3).map((node) => node.target.join(' ')),
    }));
  })()`)) as { id: string; impact: string; targets: string[] }[];
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${what}: ${JSON.stringify(serious)}`);
}

/** Nothing wider than the 1280×720 viewport: no horizontal scrollbar. */
async function assertFits(page: Page, what: string) {
  const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
  assert.ok(width <= 1280, `${what} is ${width}px wide at 1280×720`);
}

/** The focused element: its name or text, and whether a focus ring shows (a visible outline of 2px or more). */
async function focused(page: Page): Promise<{ name: string; text: string; ring: boolean; inDialog: boolean }> {
  return (await page.evaluate(`(() => {
    const element = document.activeElement ?? document.body;
    const style = getComputedStyle(element);
    return {
      name: element.getAttribute('name') ?? '',
      text: (element.textContent ?? '').trim(),
      ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
      inDialog: Boolean(element.closest('dialog[open]')),
    };
  })()`)) as { name: string; text: string; ring: boolean; inDialog: boolean };
}

/** A lab's answer as an admin reads it. */
async function labOf(id: string) {
  const answer = await asAdmin('GET', `/api/v1/labs/${id}`);
  assert.equal(answer.status, 200);
  return answer.body as {
    status: string;
    expiresAt: string;
    vms: {
      id: string;
      name: string;
      copy: number;
      status: string;
      steps: { name: string; startedAt: string | null }[];
    }[];
  };
}

/** A screenshot of the page as it opens (scrolled to the top), or as it is scrolled now (`where: 'here'`). */
async function shoot(page: Page, name: string, where: 'top' | 'here' = 'top') {
  if (where === 'top') await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

test('the initial JavaScript and CSS stay under 400 KB gzipped, and React is its production build', () => {
  const index = readFileSync(join(web, 'dist/index.html'), 'utf8');
  const files = [...index.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
  assert.ok(files.some((file) => file.endsWith('.js')));
  const gzipped = files.reduce((sum, file) => sum + gzipSync(readFileSync(join(web, 'dist', file))).length, 0);
  assert.ok(gzipped < 400 * 1024, `initial assets are ${gzipped} bytes gzipped`);
  // React's production build: its development code (warnings such as this one) is not served.
  const code = files
    .filter((file) => file.endsWith('.js'))
    .map((file) => readFileSync(join(web, 'dist', file), 'utf8'));
  assert.ok(!code.some((text) => text.includes('Each child in a list should have a unique')), 'a development build');
});

test('sign-in, an accessible dashboard, sign-out; no key kept in the browser', async () => {
  const { context, page } = await newPage();
  await page.goto('/');
  await assertAccessible(page, 'sign-in');
  await shoot(page, 'sign-in');
  await page.getByLabel('API key').fill('gd_wrong-key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'unknown or revoked' }).waitFor();

  await signIn(page, stack.adminKey);
  assert.equal(await page.getByTestId('role').textContent(), 'admin');
  assert.equal(await page.getByTestId('project').textContent(), 'default');
  const cookie = (await context.cookies()).find((c) => c.name === 'gd_session');
  assert.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
  assert.equal(cookie?.sameSite, 'Strict');
  const stored = await page.evaluate('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })');
  assert.equal(stored, '{}{}', 'nothing in local or session storage');
  assert.equal(await page.evaluate('document.cookie'), '', 'the cookie is not readable by scripts');
  await page.getByRole('table', { name: 'Queues' }).waitFor();
  await assertAccessible(page, 'dashboard');
  await assertFits(page, 'dashboard');
  await shoot(page, 'dashboard');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API key').waitFor();
  await page.goto('/');
  await page.getByLabel('API key').waitFor();
  const answer = await page.request.get('/api/v1/labs');
  assert.equal(answer.status(), 401, 'the old cookie no longer works');
  await context.close();
});

test('keyboard only: sign in and move through the navigation, every stop with a visible focus ring', async () => {
  const { context, page } = await newPage();
  await page.goto('/');
  await page.getByLabel('API key').waitFor();
  await page.keyboard.press('Tab');
  let now = await focused(page);
  assert.equal(now.name, 'apiKey', JSON.stringify(now));
  assert.ok(now.ring, 'the API key field shows its focus');
  await page.keyboard.type(keys.operator);
  await page.keyboard.press('Tab');
  now = await focused(page);
  assert.deepEqual([now.text, now.ring], ['Sign in', true]);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  // The first stop is the skip link; then the navigation, in order, down to Sign out.
  await page.keyboard.press('Tab');
  now = await focused(page);
  assert.deepEqual([now.text, now.ring], ['Skip to content', true]);
  const stops: { text: string; ring: boolean }[] = [];
  for (let i = 0; i < 15 && stops.at(-1)?.text !== 'Sign out'; i++) {
    await page.keyboard.press('Tab');
    stops.push(await focused(page));
  }
  assert.deepEqual(
    stops.map((stop) => stop.text),
    ['Glassdome', 'Dashboard', 'Quick deploy', 'Catalog', 'Lab designer', 'Templates', 'Alerts', 'Sign out'],
  );
  assert.ok(
    stops.every((stop) => stop.ring),
    `a stop without a focus ring: ${JSON.stringify(stops)}`,
  );
  // Back to Quick deploy and open it with Enter: its form is reachable from the keyboard too.
  await page.getByRole('link', { name: 'Quick deploy' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: /Quick deploy/ }).waitFor();
  await page.getByLabel('Name').focus();
  assert.ok((await focused(page)).ring, 'the quick deploy form shows its focus');
  await context.close();
});

test('a viewer sees no control that changes anything', async () => {
  const { context, page } = await newPage();
  await signIn(page, keys.viewer);
  assert.equal(await page.getByTestId('role').textContent(), 'viewer');
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const hidden of ['Quick deploy', 'Lab designer', 'API keys', 'Bull Board ↗'])
    assert.equal(await nav.getByRole('link', { name: hidden }).count(), 0, hidden);
  await nav.getByRole('link', { name: 'Catalog' }).click();
  await page.getByRole('heading', { name: 'Web application pentest' }).waitFor();
  assert.equal(await page.getByRole('button', { name: /Deploy/ }).count(), 0);
  await nav.getByRole('link', { name: 'Templates' }).click();
  await page.getByRole('table', { name: 'OS profiles' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Build template' }).count(), 0);
  await nav.getByRole('link', { name: 'Alerts' }).click();
  await page.getByRole('heading', { name: 'Alerts' }).waitFor();
  assert.equal(await page.getByRole('columnheader', { name: 'actions' }).count(), 0);
  await context.close();
});

test('Bull Board opens for an admin session and is refused for an operator session', async () => {
  const admin = await newPage();
  await signIn(admin.page, stack.adminKey);
  const board = await admin.page.goto('/admin/queues');
  assert.equal(board?.status(), 200);
  await admin.page.waitForSelector('text=vm', { timeout: 20_000 });
  await admin.context.close();

  const operator = await newPage();
  await signIn(operator.page, keys.operator);
  const refused = await operator.page.goto('/admin/queues');
  assert.equal(refused?.status(), 403);
  await operator.context.close();
  const anonymous = await newPage();
  assert.equal((await anonymous.page.goto('/admin/queues'))?.status(), 401);
  await anonymous.context.close();
});

test('an admin makes a key (shown once), revokes it after confirming, and the key signs in no more', async () => {
  const { context, page } = await newPage();
  await signIn(page, stack.adminKey);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
  await page.getByRole('heading', { name: 'API keys' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('ui-made');
  // (A select's name takes in its chosen option: "Role operator: deploys and destroys".)
  await page.getByRole('combobox', { name: /^Role/ }).selectOption('viewer');
  await page.getByRole('button', { name: 'Create key' }).click();
  const made = await page.getByLabel('New API key').inputValue();
  assert.match(made, /^gd_/);
  const stored = await page.evaluate('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })');
  assert.equal(stored, '{}{}', 'the new key is not kept in the browser either');
  await page.getByRole('button', { name: 'Done' }).click();
  assert.equal(await page.getByLabel('New API key').count(), 0, 'shown once');
  await assertAccessible(page, 'keys');
  await assertFits(page, 'keys');
  const row = page.getByRole('table', { name: 'API keys' }).getByRole('row', { name: /ui-made/ });
  await row.getByRole('button', { name: 'Revoke' }).click();
  const dialog = page.getByRole('dialog', { name: 'Revoke ui-made?' });
  await dialog.getByRole('button', { name: 'Revoke' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await row.getByRole('cell', { name: 'revoked', exact: true }).waitFor();
  const again = await fetch(`${stack.apiUrl}/api/v1/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ apiKey: made }),
  });
  assert.equal(again.status, 401);
  await context.close();
});

test('quick deploy of one VM reaches ready on its page', async () => {
  const { context, page } = await newPage();
  await signIn(page, keys.operator);
  await page.getByRole('link', { name: 'Quick deploy' }).click();
  await page.getByLabel('Name').fill('ui-quick');
  await page.getByLabel('OS').selectOption('ubuntu-22.04');
  await page.getByLabel('Provisioning commands (one per line, run as root)').fill('echo hello > /tmp/hello');
  await assertAccessible(page, 'quick deploy');
  await shoot(page, 'quick-deploy');
  await page.getByRole('button', { name: 'Deploy VM' }).click();
  await page.getByRole('heading', { name: 'ui-quick' }).waitFor();
  await page.locator('h1 + .status[data-status="ready"]').waitFor({ timeout: 90_000 });
  await page.getByRole('table', { name: 'Steps' }).getByText('verify').waitFor();
  // How to reach it: SSH as the OS's default user on its management address.
  assert.match(String(await page.getByTestId('vm-access').textContent()), /^ssh (-p \d+ )?ubuntu@127\.64\.\d+\.\d+$/);
  quickUrl = page.url();
  // The dashboard lists it, live.
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await page
    .getByRole('table', { name: 'Standalone VMs' })
    .getByRole('row', { name: /ui-quick.*ready/ })
    .waitFor();
  await context.close();
});

let quickUrl = '';
let labUrl = '';

test('a catalog lab with 2 copies turns ready node by node on the canvas without a reload', async () => {
  const { context, page } = await newPage();
  await signIn(page, keys.operator);
  let navigations = 0;
  await page.getByRole('link', { name: 'Catalog' }).click();
  await page.getByRole('button', { name: 'Deploy Web application pentest' }).click();
  const form = page.getByRole('form', { name: 'Deploy web-pentest-101' });
  await form.getByLabel('Lab name').fill('class-a');
  await form.getByLabel('Copies').fill('2');
  await form.getByLabel(/TTL/).fill('2h');
  await assertAccessible(page, 'catalog');
  await shoot(page, 'catalog');
  await form.getByRole('button', { name: 'Deploy web-pentest-101' }).click();
  await page.getByRole('heading', { name: 'class-a' }).waitFor();
  labUrl = page.url();
  page.on('framenavigated', () => navigations++);
  const canvas = page.getByRole('figure', { name: 'Lab topology' });
  for (const copy of ['1', '2']) {
    await page.getByRole('group', { name: 'Copy' }).getByRole('button', { name: copy }).click();
    for (const vm of ['target', 'attacker']) {
      await canvas.locator(`[data-testid="vm-node-${vm}"][data-status="ready"]`).waitFor({ timeout: 150_000 });
    }
  }
  await page.locator('h1 + .status[data-status="ready"]').waitFor({ timeout: 60_000 });
  assert.equal(navigations, 0, 'the page never reloaded');
  // The dependsOn edge and the rule's ports are drawn.
  await canvas.getByText('tcp/80 tcp/22').first().waitFor();
  // Each node shows its lab address and how it is reached (SSH on its management address).
  await canvas.getByTestId('vm-node-target').getByText('lan 10.10.0.10/24').waitFor();
  assert.match(
    String(await canvas.getByTestId('vm-access-target').textContent()),
    /^ssh (-p \d+ )?ubuntu@127\.64\.\d+\.\d+$/,
  );
  await page.getByRole('table', { name: 'VMs of copy 2' }).getByText('lan 10.10.0.100').waitFor();
  // The isolation check agreed: a matrix per copy, every probed cell as the spec says.
  const isolation = page.getByTestId('isolation');
  await isolation.locator('.status[data-status="ok"]').waitFor();
  const matrix = page.getByRole('table', { name: 'Isolation matrix' });
  await matrix.getByRole('rowheader', { name: 'attacker' }).waitFor();
  await matrix.getByRole('columnheader', { name: 'outside' }).waitFor();
  assert.equal(await matrix.locator('[data-verdict="disagreed"]').count(), 0);
  assert.ok((await matrix.locator('[data-verdict="agreed"]').count()) >= 3, 'probes are shown');
  // The rule's port from the attacker to the target reaches; the isolation task is on the timeline.
  await matrix.locator('[data-verdict="agreed"]').filter({ hasText: 'tcp/80 reach' }).first().waitFor();
  // Its name: `lab:isolation` for the whole lab, or `c0:isolation` once each copy is checked on its own.
  await page
    .getByText(/\b(lab|c0):isolation: done/)
    .first()
    .waitFor({ state: 'attached' });
  await isolation.screenshot({ path: join(shots, 'lab-isolation.png') });
  await assertAccessible(page, 'lab view');
  await assertFits(page, 'lab view');
  await shoot(page, 'lab-view');
  const labId = labUrl.split('/').at(-1)!;
  const lab = await labOf(labId);
  // The catalog's TTL parameter: the lab expires about 2 h after it was deployed.
  const ttlMinutes = (Date.parse(lab.expiresAt) - Date.now()) / 60_000;
  assert.ok(ttlMinutes > 100 && ttlMinutes <= 120, `expires in ${ttlMinutes} minutes`);

  // The step timeline: a row per VM of the selected copy (2), a bar per step that started, in order.
  const timeline = page.getByRole('region', { name: 'Step timeline' });
  for (const vm of lab.vms.filter((each) => each.copy === 1)) {
    const bars = await timeline.getByTestId(`gantt-row-${vm.name}`).locator('.visually-hidden').allTextContents();
    const started = vm.steps.filter((step) => step.startedAt).map((step) => step.name);
    assert.ok(started.length >= 3, JSON.stringify(vm.steps));
    assert.deepEqual(
      bars.map((bar) => bar.slice(0, bar.indexOf(': '))),
      started,
      `${vm.name}: ${JSON.stringify(bars)}`,
    );
    assert.ok(
      bars.every((bar) => /: done/.test(bar)),
      JSON.stringify(bars),
    );
  }

  // The roster: every VM of both copies, and the same rows as CSV.
  const roster = page.getByRole('table', { name: 'Roster' });
  await roster.locator('tbody .status[data-status="ready"]').nth(3).waitFor();
  assert.equal(await roster.locator('tbody tr').count(), 4);
  const [csvFile] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  assert.equal(csvFile.suggestedFilename(), 'class-a-roster.csv');
  const csv = readFileSync(await csvFile.path(), 'utf8')
    .trim()
    .split('\n');
  assert.equal(csv[0], 'copy,vm,status,addresses,ssh,traineeKeys');
  assert.deepEqual(
    csv
      .slice(1)
      .map((line) => line.split(',').slice(0, 3).join(','))
      .sort(),
    ['1,attacker,ready', '1,target,ready', '2,attacker,ready', '2,target,ready'],
  );
  assert.ok(
    csv.slice(1).every((line) => /,ssh (-p \d+ )?[a-z][a-z0-9_-]*@127\.64\.\d+\.\d+,/.test(line)),
    csv.join('\n'),
  );
  assert.ok(
    csv.some((line) => line.includes('lan 10.10.0.10/24')),
    csv.join('\n'),
  );
  await context.close();
});

test('a terminal on a lab VM runs hostname and shows the VM name', async () => {
  assert.ok(labUrl, 'the catalog lab was deployed');
  const { context, page } = await newPage();
  await signIn(page, keys.operator);
  await page.goto(labUrl);
  await page.getByRole('button', { name: 'Open a terminal on target' }).click();
  await page.getByTestId('terminal-state').filter({ hasText: 'connected as' }).waitFor();
  await page.getByTestId('terminal').click();
  await page.keyboard.type('hostname\n');
  await page
    .getByTestId('terminal')
    .locator('.xterm-rows')
    .filter({ hasText: /^.*\btarget\b[\s\S]*\btarget\b/ })
    .waitFor();
  // biome-ignore lint/performance/useDomNodeTextContent: xterm's rows are divs; innerText keeps their line breaks
  const text = await page.getByTestId('terminal').locator('.xterm-rows').innerText();
  // The guest's hostname is its Proxmox name: gd-<lab>-c<copy>-<vm>.
  assert.match(text, /hostname\s*\n\s*gd-[0-9a-f]+-c0-target\s*\n/, text);
  await shoot(page, 'terminal', 'here');
  await page.getByRole('button', { name: 'Close terminal' }).click();
  // Opened again, then signed out in another tab of the same browser: the API ends the terminal itself.
  await page.getByRole('button', { name: 'Open a terminal on target' }).click();
  await page.getByTestId('terminal-state').filter({ hasText: 'connected as' }).waitFor();
  const tab = await context.newPage();
  await tab.goto('/');
  await tab.getByRole('button', { name: 'Sign out' }).click();
  await tab.getByLabel('API key').waitFor();
  await page.getByTestId('terminal-state').filter({ hasText: 'closed: signed out' }).waitFor();
  await context.close();

  // Who opened it and when is in the lab's timeline.
  const labId = labUrl.split('/').at(-1)!;
  const kinds = async () => {
    const found: { kind: string; message: string }[] = [];
    let cursor: string | null = null;
    do {
      const answer = await fetch(
        `${stack.apiUrl}/api/v1/labs/${labId}/events?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { headers: { Authorization: `Bearer ${stack.adminKey}`, Accept: 'application/json' } },
      );
      assert.equal(answer.status, 200);
      const page = (await answer.json()) as { items: { kind: string; message: string }[]; nextCursor: string | null };
      found.push(...page.items.filter((event) => event.kind.startsWith('terminal.')));
      cursor = page.nextCursor;
    } while (cursor);
    return found;
  };
  const deadline = Date.now() + 10_000;
  let terminalEvents = await kinds();
  const closed = () => terminalEvents.filter((event) => event.kind === 'terminal.closed');
  while (closed().length < 2 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    terminalEvents = await kinds();
  }
  const opened = terminalEvents.find((event) => event.kind === 'terminal.opened');
  assert.match(opened?.message ?? '', /terminal on target opened by ui-operator/, JSON.stringify(terminalEvents));
  // One closed from the page, one by the API when the session ended.
  assert.deepEqual(
    closed()
      .map((event) => /\(([^)]+)\)/.exec(event.message)?.[1])
      .sort(),
    ['browser closed the terminal', 'signed out'],
    JSON.stringify(terminalEvents),
  );
});

test('lab and VM actions ask first: kept, nothing happens; confirmed, they happen', async () => {
  assert.ok(labUrl && quickUrl, 'the catalog lab and the quick VM were deployed');
  const labId = labUrl.split('/').at(-1)!;
  const { context, page } = await newPage();
  await signIn(page, keys.operator);
  await page.goto(labUrl);
  await page.getByRole('heading', { name: 'class-a' }).waitFor();
  const actions = page.getByRole('group', { name: 'Lab actions' });
  const before = (await labOf(labId)).expiresAt;

  // From the keyboard: Enter opens the dialog with the focus inside it, Escape closes it and nothing changes.
  await actions.getByRole('button', { name: 'Extend 1h' }).focus();
  await page.keyboard.press('Enter');
  const extend = page.getByRole('dialog', { name: 'Extend the TTL by an hour?' });
  await extend.waitFor();
  const inside = await focused(page);
  assert.ok(inside.inDialog && inside.ring, `focus in the dialog: ${JSON.stringify(inside)}`);
  await assertAccessible(page, 'confirmation dialog');
  await page.keyboard.press('Escape');
  await extend.waitFor({ state: 'hidden' });
  assert.equal((await focused(page)).text, 'Extend 1h', 'focus returns to the button');
  assert.equal((await labOf(labId)).expiresAt, before, 'kept: the expiry did not move');
  // Confirmed: an hour more.
  await actions.getByRole('button', { name: 'Extend 1h' }).click();
  await extend.getByRole('button', { name: 'Extend 1h' }).click();
  await extend.waitFor({ state: 'hidden' });
  const moved = (Date.parse((await labOf(labId)).expiresAt) - Date.parse(before)) / 60_000;
  assert.ok(moved > 55 && moved < 65, `the expiry moved by ${moved} minutes`);

  // Snapshot: "Keep it" takes none; confirmed, the lab has it.
  const snapshots = async () =>
    ((await asAdmin('GET', `/api/v1/labs/${labId}/snapshots`)).body.items as { name: string }[])
      .map((snapshot) => snapshot.name)
      .filter((name) => name.startsWith('ui-'));
  await actions.getByRole('button', { name: 'Snapshot' }).click();
  const snapshot = page.getByRole('dialog', { name: 'Snapshot the whole lab?' });
  await snapshot.getByRole('button', { name: 'Keep it' }).click();
  await snapshot.waitFor({ state: 'hidden' });
  assert.deepEqual(await snapshots(), []);
  await actions.getByRole('button', { name: 'Snapshot' }).click();
  await snapshot.getByRole('button', { name: 'Snapshot' }).click();
  await snapshot.waitFor({ state: 'hidden' });
  const deadline = Date.now() + 120_000;
  while ((await snapshots()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  assert.equal((await snapshots()).length, 1, 'the confirmed snapshot is listed');

  // A VM node on the canvas opens that VM's actions; its snapshot, confirmed, is that VM's alone.
  const running = async () =>
    ((await asAdmin('GET', `/api/v1/labs/${labId}/operations`)).body.items as { status: string }[]).filter(
      (operation) => operation.status === 'running' || operation.status === 'queued',
    ).length;
  const idle = Date.now() + 120_000;
  while ((await running()) > 0 && Date.now() < idle) await new Promise((r) => setTimeout(r, 500));
  await page.getByTestId('vm-node-target').click();
  const vmActions = page.getByTestId('vm-actions');
  await vmActions.getByText('target (copy 1)').waitFor();
  await assertAccessible(page, 'VM actions');
  const target = (await labOf(labId)).vms.find((vm) => vm.name === 'target' && vm.copy === 0)!;
  const vmSnapshots = async () =>
    ((await asAdmin('GET', `/api/v1/vms/${target.id}/snapshots`)).body.items as { name: string }[])
      .map((entry) => entry.name)
      .filter((name) => name.startsWith('ui-'));
  const lastLab = (await snapshots())[0];
  await vmActions.getByRole('button', { name: 'Snapshot VM' }).click();
  const vmSnapshot = page.getByRole('dialog', { name: 'Snapshot target?' });
  await vmSnapshot.getByRole('button', { name: 'Snapshot VM' }).click();
  await vmSnapshot.waitFor({ state: 'hidden' });
  const vmDeadlineSnap = Date.now() + 120_000;
  while ((await vmSnapshots()).length < 2 && Date.now() < vmDeadlineSnap) await new Promise((r) => setTimeout(r, 500));
  assert.equal((await vmSnapshots()).length, 2, "the VM holds the lab's snapshot and its own");
  const own = (
    (await asAdmin('GET', `/api/v1/labs/${labId}/snapshots`)).body.items as {
      name: string;
      vms: { vmId: string }[];
    }[]
  ).find((entry) => entry.name.startsWith('ui-') && entry.name !== lastLab);
  assert.deepEqual(
    own?.vms.map((vm) => vm.vmId),
    [target.id],
    'the new snapshot holds that VM alone',
  );
  await vmActions.getByRole('button', { name: "Close the VM's actions" }).click();
  await vmActions.waitFor({ state: 'hidden' });

  // Destroy asks, and "Keep it" keeps the lab.
  await actions.getByRole('button', { name: 'Destroy' }).click();
  const destroyLab = page.getByRole('dialog', { name: 'Destroy class-a?' });
  await destroyLab.getByText('Every VM, network and lease of every copy is removed.').waitFor();
  await destroyLab.getByRole('button', { name: 'Keep it' }).click();
  await destroyLab.waitFor({ state: 'hidden' });
  assert.notEqual((await labOf(labId)).status, 'destroying');

  // The quick VM: destroyed once confirmed.
  await page.goto(quickUrl);
  await page.getByRole('heading', { name: 'ui-quick' }).waitFor();
  await page.getByRole('button', { name: 'Destroy' }).click();
  await page.getByRole('dialog', { name: 'Destroy ui-quick?' }).getByRole('button', { name: 'Destroy' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  const vmId = quickUrl.split('/').at(-1)!;
  const vmDeadline = Date.now() + 90_000;
  let vmStatus = '';
  while (Date.now() < vmDeadline) {
    vmStatus = String((await asAdmin('GET', `/api/v1/vms/${vmId}`)).body.status);
    if (vmStatus === 'destroyed') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(vmStatus, 'destroyed');
  await context.close();
});

test("the UI shows what the key's role and project allow: a viewer sees a lab without controls, another project sees nothing of ours", async () => {
  assert.ok(labUrl, 'the catalog lab was deployed');
  const viewer = await newPage();
  await signIn(viewer.page, keys.viewer);
  await viewer.page.getByRole('table', { name: 'Labs' }).getByRole('link', { name: 'class-a' }).click();
  await viewer.page.getByRole('heading', { name: 'class-a' }).waitFor();
  await viewer.page.getByRole('figure', { name: 'Lab topology' }).getByTestId('vm-node-target').waitFor();
  await viewer.page.getByRole('table', { name: 'Roster' }).waitFor();
  assert.equal(await viewer.page.getByRole('group', { name: 'Lab actions' }).count(), 0, 'no lab actions');
  assert.equal(await viewer.page.getByRole('button', { name: /Open a terminal/ }).count(), 0, 'no terminals');
  assert.equal(await viewer.page.getByRole('columnheader', { name: 'terminal' }).count(), 0);
  await viewer.context.close();

  const created = await asAdmin('POST', '/api/v1/keys', {
    name: 'ui-elsewhere',
    role: 'operator',
    project: 'elsewhere',
  });
  assert.equal(created.status, 201);
  const other = await newPage();
  await signIn(other.page, String(created.body.key));
  assert.equal(await other.page.getByTestId('project').textContent(), 'elsewhere');
  await other.page.getByText('No labs. Deploy one from the catalog or the designer.').waitFor();
  await other.page.getByText('No standalone VMs.').waitFor();
  assert.equal(await other.page.getByRole('link', { name: 'class-a' }).count(), 0);
  await other.page.goto(labUrl);
  await other.page.locator('.notice.error').waitFor();
  assert.equal(await other.page.getByRole('heading', { name: 'class-a' }).count(), 0);
  assert.equal(await other.page.getByRole('figure', { name: 'Lab topology' }).count(), 0);
  await other.context.close();
});

test('designing a 3-VM, 2-network lab: a validation error pinned to its field, fixed, deployed to ready', async () => {
  const { context, page } = await newPage();
  await signIn(page, keys.operator);
  await page.getByRole('link', { name: 'Lab designer' }).click();
  await page.getByLabel('Lab name').fill('designed');
  await page.getByRole('button', { name: '+ Network' }).click();
  await page.getByTestId('zone-net').waitFor();
  // A Kali VM dragged from the palette into the first network.
  await page.getByTestId('palette-kali').dragTo(page.getByTestId('zone-lan'));
  await page.getByTestId('vm-node-kali').waitFor();
  // Two more with the keyboard-friendly buttons: each joins the selected network.
  await page.getByTestId('zone-net').click();
  await page.getByRole('button', { name: 'Add a Ubuntu 22.04 LTS VM' }).click();
  await page.getByRole('button', { name: 'Add a Debian 12 (bookworm) VM' }).click();
  const debian = page.getByRole('group', { name: 'Properties of debian' });
  // The Debian VM is dual-homed: in both networks.
  await debian.getByRole('group', { name: 'Networks' }).getByLabel('lan', { exact: true }).check();
  await debian.getByRole('group', { name: 'Depends on' }).getByLabel('ubuntu', { exact: true }).check();
  // Too little memory for Kali: the API's dry run refuses it, pinned to the node and the field.
  await page.getByTestId('vm-node-kali').click();
  const kali = page.getByRole('group', { name: 'Properties of kali' });
  await kali.getByLabel('Memory MiB').fill('512');
  await page.locator('[data-testid="validation"][data-state="invalid"]').waitFor();
  await page
    .getByTestId('vm-node-kali')
    .getByText(/memoryMiB/)
    .waitFor();
  await kali
    .getByText(/memory|MiB/i)
    .last()
    .waitFor();
  assert.equal(await kali.getByLabel('Memory MiB').getAttribute('aria-invalid'), 'true');
  await assertAccessible(page, 'designer');
  await assertFits(page, 'designer');
  await shoot(page, 'designer-invalid');
  await kali.getByLabel('Memory MiB').fill('4096');
  await page.locator('[data-testid="validation"][data-state="valid"]').waitFor();
  const yaml = await page.getByLabel(/Spec \(YAML/).inputValue();
  assert.match(yaml, /name: debian[\s\S]*networks:\s*\n\s*- net\s*\n\s*- lan/);
  await shoot(page, 'designer');
  // The other way: an edit of the YAML reaches the form (and the canvas).
  assert.match(yaml, /^ttl: \S+$/m);
  await page.getByLabel(/Spec \(YAML/).fill(yaml.replace(/^ttl: \S+$/m, 'ttl: 3h'));
  assert.equal(await page.getByLabel('TTL', { exact: true }).inputValue(), '3h');
  await page.locator('[data-testid="validation"][data-state="valid"]').waitFor();
  // Saved to the project's specs before it is deployed.
  await page.getByRole('button', { name: 'Save spec' }).click();
  await page.getByTestId('saved').filter({ hasText: 'saved as designed version 1' }).waitFor();
  const savedSpec = await asAdmin('GET', '/api/v1/lab-specs/designed');
  assert.equal(savedSpec.status, 200, JSON.stringify(savedSpec.body));
  assert.match(JSON.stringify(savedSpec.body), /"debian"/);
  await page.getByRole('button', { name: 'Deploy lab' }).click();
  await page.getByRole('heading', { name: 'designed' }).waitFor();
  const canvas = page.getByRole('figure', { name: 'Lab topology' });
  for (const vm of ['kali', 'ubuntu', 'debian']) {
    // Ready or failed, whichever comes first: a failure is reported with its reason, not as a timeout.
    const node = canvas.locator(`[data-testid="vm-node-${vm}"]:is([data-status="ready"], [data-status="failed"])`);
    await node.waitFor({ timeout: 150_000 });
    const status = await node.getAttribute('data-status');
    const why = await page.getByTestId(`vm-row-${vm}`).textContent();
    assert.equal(status, 'ready', `${vm}: ${why}`);
  }
  await context.close();
  assert.ok(existsSync(join(shots, 'designer.png')));
});
