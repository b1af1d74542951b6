/**
 * Glassdome's MCP server driven by the SDK's own client over both transports — Streamable HTTP at
 * the API's /mcp and stdio through `glassdome mcp` — against a real stack on the simulator: tools
 * by role, validation with paths, a catalog plan, a deploy that needs its confirmation token,
 * following the lab to ready over a resource subscription, explaining a lab whose guest agent never
 * answers, and a confirmed destroy. The conversation is written to docs/mcp-transcript.md.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
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
  waitFor,
} from '@glassdome/testkit';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Transcript } from './transcript';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const ACTING_TOOLS = ['deploy_lab', 'retry_lab', 'cancel_lab', 'destroy_lab', 'destroy_vm'];
const CATALOG_LAB = 'web-pentest-101';

let sim: TestSimulator;
let database: TestDatabase;
let redis: TestRedis;
let stack: RunningStack;
let viewerKey: string;
let operatorKey: string;
const clients: Client[] = [];
let operator: Client;
let viewer: Client;
let stdio: Client;
let stdioStderr = '';
const transcript = new Transcript();
let deployedLabId: string;

async function api(method: string, path: string, body?: unknown, key = stack.adminKey) {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

async function createKey(name: string, role: string): Promise<string> {
  const created = await api('POST', '/api/v1/keys', { name, role });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.key as string;
}

async function httpClient(key: string): Promise<Client> {
  const client = new Client({ name: 'e2e-assistant', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${stack.apiUrl}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    }),
  );
  clients.push(client);
  return client;
}

async function stdioClient(key: string, confirmTtlSeconds: number): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', 'apps/cli/src/main.ts', 'mcp', '--confirm-ttl', String(confirmTtlSeconds)],
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      GLASSDOME_URL: stack.apiUrl,
      GLASSDOME_API_KEY: key,
      GLASSDOME_CONFIG: '/nonexistent/glassdome-config.yaml',
    },
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (chunk: Buffer) => {
    stdioStderr += chunk.toString();
  });
  const client = new Client({ name: 'e2e-desktop-assistant', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

interface CallAnswer {
  data: Record<string, unknown>;
  text: string;
  isError: boolean;
}

/** Calls a tool; records it in the transcript (with `pick` trimming the answer) unless `record` is false. */
async function call(
  client: Client,
  tool: string,
  args: Record<string, unknown>,
  options: { transport?: string; pick?: (data: Record<string, unknown>) => unknown; record?: boolean } = {},
): Promise<CallAnswer> {
  const result = await client.callTool({ name: tool, arguments: args });
  const text = (result.content as { type: string; text?: string }[]).map((part) => part.text ?? '').join('\n');
  const data = (result.structuredContent ?? {}) as Record<string, unknown>;
  const isError = result.isError === true;
  if (options.record !== false) {
    const shown = isError ? data.error : options.pick ? options.pick(data) : data;
    transcript.call(options.transport ?? 'http', tool, args, shown, isError);
  }
  return { data, text, isError };
}

async function labStatus(id: string): Promise<string> {
  return String((await api('GET', `/api/v1/labs/${id}`)).body.status);
}

before(async () => {
  sim = await startSimulator();
  database = await createTestDatabase('mcp');
  redis = createRedisPrefix('mcp');
  stack = await startStack({
    sim: sim.info,
    databaseUrl: database.url,
    redisUrl: redis.url,
    queuePrefix: redis.prefix,
    // A guest whose agent never answers fails in seconds, not minutes.
    env: { TEMPLATE_VMIDS: OS_TEMPLATE_VMIDS, AGENT_TIMEOUT_SECONDS: '3', SSH_TIMEOUT_SECONDS: '20' },
  });
  await addOsTemplates(sim.info, { grantClone: true });
  viewerKey = await createKey('mcp-viewer', 'viewer');
  operatorKey = await createKey('mcp-operator', 'operator');
});

after(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  await stack?.stop();
  await sim?.stop();
  await database?.drop();
  await redis?.cleanup();
  transcript.write(fileURLToPath(new URL('../../../docs/mcp-transcript.md', import.meta.url)));
});

test('tools follow the key: a viewer is offered no acting tools, an operator all of them; sessions are the key’s own', async () => {
  viewer = await httpClient(viewerKey);
  operator = await httpClient(operatorKey);
  const viewerTools = (await viewer.listTools()).tools.map((tool) => tool.name);
  const operatorTools = (await operator.listTools()).tools.map((tool) => tool.name);
  for (const name of ACTING_TOOLS) {
    assert.ok(!viewerTools.includes(name), `viewer must not see ${name}`);
    assert.ok(operatorTools.includes(name), `operator sees ${name}`);
  }
  for (const name of ['list_labs', 'get_lab', 'lab_events', 'list_alerts', 'overseer_report', 'explain_failure']) {
    assert.ok(viewerTools.includes(name), `viewer reads with ${name}`);
  }
  for (const name of ['validate_lab_spec', 'plan_lab', 'diff_lab_spec']) assert.ok(operatorTools.includes(name));
  transcript.user('What can you do on Glassdome with my viewer key, and with my operator key?');
  transcript.assistant(
    `Viewer key: ${viewerTools.join(', ')}. Operator key adds: ${operatorTools.filter((name) => !viewerTools.includes(name)).join(', ')}.`,
  );

  // An acting tool called anyway by a viewer does not exist for it.
  const refused = await viewer.callTool({
    name: 'destroy_lab',
    arguments: { labId: '00000000-0000-4000-8000-000000000000' },
  });
  assert.equal(refused.isError, true);
  assert.match(JSON.stringify(refused.content), /destroy_lab not found/);

  // No key, no MCP; and a session is answered only to the key that opened it.
  const anonymous = await fetch(`${stack.apiUrl}/mcp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{}',
  });
  assert.equal(anonymous.status, 401);
  const viewerSession = (viewer.transport as StreamableHTTPClientTransport).sessionId!;
  const hijack = await fetch(`${stack.apiUrl}/mcp`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${operatorKey}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'Mcp-Session-Id': viewerSession,
      'Mcp-Protocol-Version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
  });
  assert.equal(hijack.status, 404);

  const resources = (await viewer.listResources()).resources.map((resource) => resource.uri);
  for (const uri of [
    'glassdome://docs/labs',
    'glassdome://schema/lab-spec',
    'glassdome://catalog',
    'glassdome://os-profiles',
  ]) {
    assert.ok(resources.includes(uri), `${uri} listed`);
  }
  const schema = await viewer.readResource({ uri: 'glassdome://schema/lab-spec' });
  assert.match(String((schema.contents[0] as { text: string }).text), /"vms"/);
});

test('validate_lab_spec over stdio answers every error of a broken spec with its path', async () => {
  stdio = await stdioClient(operatorKey, 1);
  const broken = {
    name: 'broken lab',
    networks: [{ name: 'lan', cidr: '10.50.0.0/33' }],
    vms: [
      { name: 'target', os: 'ubuntu-22.04', networks: ['lan'], memoryMiB: 'lots' },
      { name: 'attacker', os: 'plan9', networks: ['lan'] },
    ],
  };
  transcript.user('Check this lab spec before I deploy it.');
  const answer = await call(stdio, 'validate_lab_spec', { spec: broken }, { transport: 'stdio' });
  assert.equal(answer.isError, false, answer.text);
  assert.equal(answer.data.valid, false);
  const errors = answer.data.errors as { path: string; message: string }[];
  const paths = errors.map((error) => error.path);
  for (const path of ['name', 'networks.0.cidr', 'vms.0.memoryMiB', 'vms.1.os']) {
    assert.ok(paths.includes(path), `${path} in ${paths.join(', ')}`);
  }
  assert.ok(errors.every((error) => error.message.length > 0));
  transcript.assistant(
    `The spec has ${errors.length} problems: ${errors.map((error) => `${error.path} ${error.message}`).join('; ')}.`,
  );

  // Well-formed, but naming what does not exist: the cross-field checks report each reference.
  const dangling = {
    name: 'dangling',
    networks: [{ name: 'lan', cidr: '10.50.0.0/24' }],
    vms: [
      { name: 'target', os: 'ubuntu-22.04', networks: ['lan', 'dmz'] },
      { name: 'attacker', os: 'kali', networks: ['lan'], dependsOn: ['ghost'] },
    ],
  };
  const second = await call(stdio, 'validate_lab_spec', { spec: dangling }, { transport: 'stdio' });
  const secondPaths = (second.data.errors as { path: string }[]).map((error) => error.path);
  for (const path of ['vms.0.networks.1', 'vms.1.dependsOn.0']) {
    assert.ok(secondPaths.includes(path), `${path} in ${secondPaths.join(', ')}`);
  }

  const fixed = await call(
    stdio,
    'validate_lab_spec',
    {
      spec: `name: fixed\nnetworks: [{name: lan, cidr: 10.50.0.0/24}]\nvms:\n  - {name: target, os: ubuntu-22.04, networks: [lan]}\n`,
    },
    { transport: 'stdio', pick: ({ valid, totals }) => ({ valid, totals }) },
  );
  assert.equal(fixed.data.valid, true, fixed.text);
  // The stdio server logs each call with the key and redacted arguments, on stderr only.
  assert.match(stdioStderr, /"tool":"validate_lab_spec"/);
  assert.match(stdioStderr, /"keyId":"[0-9a-f-]{36}"/);
  assert.ok(!stdioStderr.includes(operatorKey), 'the key never reaches the log');
});

test('plan_lab plans a catalog lab: tasks, edges, critical path and totals against the quotas', async () => {
  transcript.user(`What would deploying the catalog lab ${CATALOG_LAB} take?`);
  const plan = await call(
    operator,
    'plan_lab',
    { template: CATALOG_LAB },
    {
      pick: ({ name, totals, tasksByKind, criticalPath, quotas }) => ({
        name,
        totals,
        tasksByKind,
        criticalPath,
        quotas,
      }),
    },
  );
  assert.equal(plan.isError, false, plan.text);
  const totals = plan.data.totals as { vms: number; vcpus: number; memoryMiB: number };
  assert.ok(totals.vms >= 2 && totals.vcpus > 0 && totals.memoryMiB > 0, JSON.stringify(totals));
  const tasks = plan.data.tasks as { id: string; kind: string }[];
  const edges = plan.data.edges as [string, string][];
  assert.ok(tasks.some((task) => task.kind === 'vm-provision') && edges.length > 0);
  const critical = plan.data.criticalPath as { estimatedMs: number; tasks: string[] };
  assert.ok(critical.tasks.length > 0 && critical.tasks.every((id) => tasks.some((task) => task.id === id)));

  const catalogEntry = await operator.readResource({ uri: `glassdome://catalog/${CATALOG_LAB}` });
  const spec = JSON.parse(String((catalogEntry.contents[0] as { text: string }).text)).spec as Record<string, unknown>;
  assert.ok(Array.isArray(spec.vms), 'the catalog resource carries the full spec');
  transcript.user('And if I ran it for two students instead of one?');
  const diff = await call(
    operator,
    'diff_lab_spec',
    { fromTemplate: CATALOG_LAB, to: { ...spec, copies: 2 } },
    {
      pick: ({ identical, settings, totals }) => ({ identical, settings, totals }),
    },
  );
  assert.equal(diff.isError, false, diff.text);
  assert.deepEqual(diff.data.settings, [{ field: 'copies', from: 1, to: 2 }]);
});

test('deploy_lab acts only with its token: a wrong, expired, reused token or a changed plan is refused', async () => {
  transcript.user(`Deploy ${CATALOG_LAB} as mcp-web.`);
  const args = { template: CATALOG_LAB, name: 'mcp-web' };
  const planned = await call(operator, 'deploy_lab', args, {
    pick: ({ confirmationRequired, plan, confirmation }) => ({
      confirmationRequired,
      plan: { ...(plan as object), spec: '(the normalised spec)' },
      confirmation,
    }),
  });
  assert.equal(planned.data.confirmationRequired, true, planned.text);
  const token = (planned.data.confirmation as { token: string }).token;
  const countLabs = async () =>
    ((await api('GET', '/api/v1/labs?limit=500')).body.items as { name: string }[]).filter((lab) =>
      lab.name.startsWith('mcp-web'),
    ).length;
  assert.equal(await countLabs(), 0, 'a plan deploys nothing');

  const wrong = await call(operator, 'deploy_lab', {
    ...args,
    confirm: `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`,
  });
  assert.equal(wrong.isError, true);
  assert.equal((wrong.data.error as { reason: string }).reason, 'forged');
  const changed = await call(operator, 'deploy_lab', { ...args, name: 'mcp-web-other', confirm: token });
  assert.equal(changed.isError, true);
  assert.equal((changed.data.error as { reason: string }).reason, 'plan-changed');
  // A token is bound to its server process too: the stdio server never issued this one.
  const elsewhere = await call(stdio, 'deploy_lab', { ...args, confirm: token }, { transport: 'stdio' });
  assert.equal((elsewhere.data.error as { reason: string }).reason, 'forged');
  // The stdio server's tokens live one second here.
  const stdioPlan = await call(stdio, 'deploy_lab', args, { transport: 'stdio', record: false });
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const expired = await call(
    stdio,
    'deploy_lab',
    { ...args, confirm: (stdioPlan.data.confirmation as { token: string }).token },
    { transport: 'stdio' },
  );
  assert.equal((expired.data.error as { reason: string }).reason, 'expired');
  assert.equal(await countLabs(), 0, 'no refused call deployed anything');

  transcript.assistant('The plan above deploys 2 VMs in one copy. Shall I go ahead? — User: yes.');
  const done = await call(operator, 'deploy_lab', { ...args, confirm: token });
  assert.equal(done.isError, false, done.text);
  deployedLabId = String(done.data.labId);
  transcript.name(deployedLabId, 'lab mcp-web');
  const reused = await call(operator, 'deploy_lab', { ...args, confirm: token });
  assert.equal((reused.data.error as { reason: string }).reason, 'used');
  assert.equal(await countLabs(), 1, 'exactly one lab deployed');
});

test('a subscription to the lab’s state resource follows it to ready', async () => {
  const uri = `glassdome://labs/${deployedLabId}`;
  let updates = 0;
  operator.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
    if (notification.params.uri === uri) updates += 1;
  });
  await operator.subscribeResource({ uri });
  const state = await waitFor(
    'the lab to settle, read from its resource',
    async () => {
      const read = await operator.readResource({ uri });
      const doc = JSON.parse(String((read.contents[0] as { text: string }).text)) as {
        lab: { status: string };
        vms: {
          name: string;
          status: string;
          managementIp: string | null;
          addresses: { network: string; address: string }[];
        }[];
      };
      return ['ready', 'failed', 'degraded'].includes(doc.lab.status) ? doc : undefined;
    },
    { timeoutMs: 150_000, intervalMs: 1_000 },
  );
  assert.equal(state.lab.status, 'ready', JSON.stringify(state));
  for (const vm of state.vms) {
    assert.equal(vm.status, 'ready');
    assert.ok(vm.managementIp, `${vm.name} has its management address`);
    assert.ok(vm.addresses.length > 0, `${vm.name} has its lab addresses`);
  }
  await waitFor('a resource update notification', async () => updates > 0 || undefined, { timeoutMs: 10_000 });
  await operator.unsubscribeResource({ uri });
  transcript.user('Tell me when it is up.');
  transcript.assistant(
    `(subscribed to ${uri}; ${updates > 1 ? 'several' : 'one'} update notification(s) later) mcp-web is ready.`,
  );
  await call(
    operator,
    'get_lab',
    { labId: deployedLabId },
    {
      pick: ({ lab, vms }) => ({
        lab: { status: (lab as { status: string }).status },
        vms: (vms as { name: string; status: string; addresses: unknown }[]).map(({ name, status, addresses }) => ({
          name,
          status,
          addresses,
        })),
      }),
    },
  );
});

test('explain_failure explains a lab whose guest agent never answers, with its remedies', async () => {
  await sim.admin('POST', '/faults', { agentNeverUp: 'all' });
  let labId: string;
  try {
    const spec = {
      name: 'mcp-mute',
      networks: [{ name: 'lan', cidr: '10.60.0.0/24' }],
      vms: [{ name: 'mute', os: 'ubuntu-22.04', networks: ['lan'] }],
    };
    const planned = await call(operator, 'deploy_lab', { spec }, { record: false });
    const done = await call(
      operator,
      'deploy_lab',
      { spec, confirm: (planned.data.confirmation as { token: string }).token },
      { record: false },
    );
    assert.equal(done.isError, false, done.text);
    labId = String(done.data.labId);
    transcript.name(labId, 'lab mcp-mute');
    await waitFor('the mute lab to fail', async () => ((await labStatus(labId)) === 'failed' ? true : undefined), {
      timeoutMs: 150_000,
      intervalMs: 1_000,
    });
  } finally {
    await sim.admin('POST', '/faults', { agentNeverUp: null });
  }
  transcript.user('My lab mcp-mute failed. Why, and what can I do?');
  const explained = await call(
    viewer,
    'explain_failure',
    { labId },
    {
      pick: ({ summary, vms, remedies }) => ({
        summary,
        vms: (vms as { name: string; kind: string; failingStep: unknown }[]).map(({ name, kind, failingStep }) => ({
          name,
          kind,
          failingStep,
        })),
        remedies,
      }),
    },
  );
  assert.equal(explained.isError, false, explained.text);
  assert.equal(explained.data.failed, true);
  const [vm] = explained.data.vms as {
    name: string;
    kind: string;
    failingStep: { name: string; attempts: number; error: string };
  }[];
  assert.equal(vm?.name, 'mute');
  assert.equal(vm?.failingStep.name, 'wait-agent');
  assert.ok(vm!.failingStep.attempts >= 1);
  assert.equal(vm?.kind, 'guest-agent', vm?.failingStep.error);
  const remedies = explained.data.remedies as { kind: string; tool?: { name: string } }[];
  assert.ok(remedies.some((remedy) => remedy.kind === 'retry' && remedy.tool?.name === 'retry_lab'));
  assert.ok(remedies.some((remedy) => remedy.kind === 'check-template'));
  const events = explained.data.events as { kind: string }[];
  assert.ok(events.length > 0, 'related events are included');
});

test('destroy_lab tears the lab down only once confirmed', async () => {
  transcript.user('We are done with mcp-web: tear it down.');
  const planned = await call(
    operator,
    'destroy_lab',
    { labId: deployedLabId },
    {
      pick: ({ plan, confirmation }) => ({ plan, confirmation }),
    },
  );
  assert.equal(planned.data.confirmationRequired, true);
  assert.equal((planned.data.plan as { vms: unknown[] }).vms.length, 2);
  assert.equal(await labStatus(deployedLabId), 'ready', 'a plan destroys nothing');
  transcript.assistant('This destroys both VMs of mcp-web and its network. Confirm? — User: yes.');
  const done = await call(operator, 'destroy_lab', {
    labId: deployedLabId,
    confirm: (planned.data.confirmation as { token: string }).token,
  });
  assert.equal(done.isError, false, done.text);
  assert.equal(done.data.status, 'destroying');
  assert.ok(done.data.jobId, 'the job to follow');
  await waitFor(
    'the lab to be destroyed',
    async () => ((await labStatus(deployedLabId)) === 'destroyed' ? true : undefined),
    {
      timeoutMs: 90_000,
      intervalMs: 500,
    },
  );
  transcript.assistant('mcp-web is destroyed.');
});
