/**
 * The web UI in a real Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against a
 * real stack of this test's own: simulator, API, installers, gateway, database and Redis prefix.
 * Screenshots of the main pages are written to docs/ui/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
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
const shots = fileURLToPath(new URL('../../../docs/ui/', import.meta.url));
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

async function shoot(page: Page, name: string) {
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

test('the initial JavaScript and CSS stay under 400 KB gzipped', () => {
  const index = readFileSync(join(web, 'dist/index.html'), 'utf8');
  const files = [...index.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
  assert.ok(files.some((file) => file.endsWith('.js')));
  const gzipped = files.reduce((sum, file) => sum + gzipSync(readFileSync(join(web, 'dist', file))).length, 0);
  assert.ok(gzipped < 400 * 1024, `initial assets are ${gzipped} bytes gzipped`);
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
  await context.close();
});

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
  await page.getByText('c0:isolation: done', { exact: false }).first().waitFor({ state: 'attached' });
  await isolation.screenshot({ path: join(shots, 'lab-isolation.png') });
  await assertAccessible(page, 'lab view');
  await assertFits(page, 'lab view');
  await shoot(page, 'lab-view');
  await page.getByRole('button', { name: 'Export CSV' }).waitFor();
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
  await shoot(page, 'terminal');
  await page.getByRole('button', { name: 'Close terminal' }).click();
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
  while (!terminalEvents.some((event) => event.kind === 'terminal.closed') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    terminalEvents = await kinds();
  }
  const opened = terminalEvents.find((event) => event.kind === 'terminal.opened');
  assert.match(opened?.message ?? '', /terminal on target opened by ui-operator/, JSON.stringify(terminalEvents));
  assert.ok(
    terminalEvents.some((event) => event.kind === 'terminal.closed'),
    JSON.stringify(terminalEvents),
  );
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
