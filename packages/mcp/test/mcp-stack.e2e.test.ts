/**
 * Glassdome's MCP server driven by the SDK's own client against a real stack on the simulator, the
 * same conversation over both transports — Streamable HTTP at the API's /mcp, and stdio through
 * `glassdome mcp` as a desktop assistant starts it: tools by role, a broken spec validated with
 * every error's path, a catalog lab planned against the project's quotas and diffed, a deploy that
 * needs its confirmation token (a wrong, expired or reused token and a changed plan refused),
 * following the lab to ready over a resource subscription, its TTL changed, a lab whose guest agent
 * never answers explained and retried, and a confirmed destroy. Every call is logged with the key
 * id, project and redacted arguments. The stdio conversation is written to docs/mcp-transcript.md
 * when every test passed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
const ACTING_TOOLS = ['deploy_lab', 'retry_lab', 'cancel_lab', 'destroy_lab', 'destroy_vm', 'extend_lab_ttl'];
const DESIGN_TOOLS = ['validate_lab_spec', 'plan_lab', 'diff_lab_spec'];
const READ_TOOLS = ['list_labs', 'get_lab', 'list_vms', 'get_vm', 'lab_events', 'list_alerts', 'overseer_report'];
const CATALOG_LAB = 'web-pentest-101';
/** Confirmation tokens live this long on both servers here, so an expired one is seen in seconds. */
const CONFIRM_TTL_SECONDS = 10;
/** Written into arguments under secret names and in commands: must never reach a log. */
const CANARY = `canary-${process.pid}-Xq7`;

type TransportName = 'http' | 'stdio';

/** One transport's clients, each speaking to its own server, and where that server logs. */
interface Side {
  transport: TransportName;
  operator: Client;
  viewer: Client;
  /** The server's log so far (the API's output for HTTP, the operator's `glassdome mcp` stderr for stdio). */
  log: () => string;
  /** The conversation over this transport goes into docs/mcp-transcript.md. */
  recorded: boolean;
  labName: string;
  muteName: string;
  muteCidr: string;
  deployedLabId?: string;
}

let sim: TestSimulator;
let database: TestDatabase;
let redis: TestRedis;
let stack: RunningStack;
let viewerKey: string;
let operatorKey: string;
let operatorKeyId: string;
const clients: Client[] = [];
const sides = {} as Record<TransportName, Side>;
const transcript = new Transcript();
let testsRegistered = 0;
let testsPassed = 0;

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

/** `glassdome mcp` started the way docs/mcp.md tells a desktop assistant to (node and the CLI's bin). */
async function stdioClient(key: string, onStderr: (text: string) => void): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['apps/cli/bin/glassdome.js', 'mcp', '--confirm-ttl', String(CONFIRM_TTL_SECONDS)],
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
  transport.stderr?.on('data', (chunk: Buffer) => onStderr(chunk.toString()));
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

/** Calls a tool; on the recorded side, writes it to the transcript (`pick` trims the answer) unless `record` is false. */
async function call(
  side: Side,
  client: Client,
  tool: string,
  args: Record<string, unknown>,
  options: { pick?: (data: Record<string, unknown>) => unknown; record?: boolean } = {},
): Promise<CallAnswer> {
  const result = await client.callTool({ name: tool, arguments: args });
  const text = (result.content as { type: string; text?: string }[]).map((part) => part.text ?? '').join('\n');
  const data = (result.structuredContent ?? {}) as Record<string, unknown>;
  const isError = result.isError === true;
  if (side.recorded && options.record !== false) {
    const shown = isError ? data.error : options.pick ? options.pick(data) : data;
    transcript.call(side.transport, tool, args, shown, isError);
  }
  return { data, text, isError };
}

function user(side: Side, text: string): void {
  if (side.recorded) transcript.user(text);
}

function assistant(side: Side, text: string): void {
  if (side.recorded) transcript.assistant(text);
}

function tokenOf(answer: CallAnswer): { token: string; expiresAt: string } {
  assert.equal(answer.data.confirmationRequired, true, answer.text);
  return answer.data.confirmation as { token: string; expiresAt: string };
}

function refusalOf(answer: CallAnswer): string {
  assert.equal(answer.isError, true, answer.text);
  return (answer.data.error as { reason: string }).reason;
}

async function labStatus(id: string): Promise<string> {
  return String((await api('GET', `/api/v1/labs/${id}`)).body.status);
}

async function waitForLabStatus(id: string, status: string, timeoutMs = 150_000): Promise<void> {
  await waitFor(`lab ${id} to be ${status}`, async () => ((await labStatus(id)) === status ? true : undefined), {
    timeoutMs,
    intervalMs: 500,
  });
}

/** Waits for a lab operation (snapshot, revert) to finish, and fails on its error. */
async function waitForOperation(labId: string, operationId: string): Promise<void> {
  const operation = await waitFor(
    `operation ${operationId} to finish`,
    async () => {
      const { body } = await api('GET', `/api/v1/labs/${labId}/operations/${operationId}`);
      return ['done', 'failed'].includes(body.status) ? body : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 500 },
  );
  assert.equal(operation.status, 'done', JSON.stringify(operation));
}

/** The JSON log lines of `mcp tool called` for `tool` by the operator key. */
function toolCallLines(side: Side, tool: string): Record<string, unknown>[] {
  return side
    .log()
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"mcp tool called"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.tool === tool && line.keyId === operatorKeyId);
}

/** Tool names in docs/mcp.md's tools table. */
function documentedTools(): Set<string> {
  const doc = readFileSync(new URL('../../../docs/mcp.md', import.meta.url), 'utf8');
  const names = doc
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([a-z_]+)`/g)].map((match) => match[1]!));
  return new Set(names);
}

before(async () => {
  // The stdio server runs from the CLI's bundle, as it does for a user.
  execFileSync(process.execPath, ['infra/build/build.mjs', '--if-stale', 'cli'], { cwd: repoRoot, stdio: 'ignore' });
  sim = await startSimulator();
  database = await createTestDatabase('mcp');
  redis = createRedisPrefix('mcp');
  stack = await startStack({
    sim: sim.info,
    databaseUrl: database.url,
    redisUrl: redis.url,
    queuePrefix: redis.prefix,
    env: {
      TEMPLATE_VMIDS: OS_TEMPLATE_VMIDS,
      // A guest whose agent never answers fails in seconds, not minutes: the simulator's agents answer
      // about 0.1 s after start, so two seconds per attempt leave a loaded machine its margin.
      AGENT_TIMEOUT_SECONDS: '2',
      // Its four attempts need only be retried, not waited between for the catalog's 2, 4 and 8 s.
      LAB_TASK_BACKOFF_MS: '250',
      SSH_TIMEOUT_SECONDS: '20',
      MCP_CONFIRM_TTL_SECONDS: String(CONFIRM_TTL_SECONDS),
    },
  });
  await addOsTemplates(sim.info, { grantClone: true });
  viewerKey = await createKey('mcp-viewer', 'viewer');
  operatorKey = await createKey('mcp-operator', 'operator');
  operatorKeyId = String((await api('GET', '/api/v1/me', undefined, operatorKey)).body.keyId);
  assert.match(operatorKeyId, /^[0-9a-f-]{36}$/);

  let stdioLog = '';
  sides.http = {
    transport: 'http',
    operator: await httpClient(operatorKey),
    viewer: await httpClient(viewerKey),
    log: () => stack.api.output(),
    recorded: false,
    labName: 'mcp-web-http',
    muteName: 'mcp-mute-http',
    muteCidr: '10.61.0.0/24',
  };
  sides.stdio = {
    transport: 'stdio',
    operator: await stdioClient(operatorKey, (text) => {
      stdioLog += text;
    }),
    viewer: await stdioClient(viewerKey, () => undefined),
    log: () => stdioLog,
    recorded: true,
    labName: 'mcp-web',
    muteName: 'mcp-mute',
    muteCidr: '10.60.0.0/24',
  };
});

after(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  await stack?.stop();
  await sim?.stop();
  await database?.drop();
  await redis?.cleanup();
  // A failed run would leave a conversation cut short: the transcript is written only when all passed.
  if (testsPassed === testsRegistered) {
    transcript.write(fileURLToPath(new URL('../../../docs/mcp-transcript.md', import.meta.url)));
  }
});

/** A test that counts towards writing the transcript. */
function scenarioTest(name: string, body: () => Promise<void>): void {
  testsRegistered += 1;
  test(name, async () => {
    await body();
    testsPassed += 1;
  });
}

function scenario(transport: TransportName): void {
  const side = () => sides[transport];
  const other = () => sides[transport === 'http' ? 'stdio' : 'http'];

  scenarioTest(`${transport}: a viewer is offered no acting (or design) tools, an operator all of them`, async () => {
    const s = side();
    const viewerTools = (await s.viewer.listTools()).tools.map((tool) => tool.name);
    const operatorTools = (await s.operator.listTools()).tools.map((tool) => tool.name);
    for (const name of [...ACTING_TOOLS, ...DESIGN_TOOLS]) {
      assert.ok(!viewerTools.includes(name), `viewer must not see ${name}`);
      assert.ok(operatorTools.includes(name), `operator sees ${name}`);
    }
    for (const name of [...READ_TOOLS, 'queue_health', 'explain_failure']) {
      assert.ok(viewerTools.includes(name), `viewer reads with ${name}`);
      assert.ok(operatorTools.includes(name), `operator reads with ${name}`);
    }
    // docs/mcp.md's table names every tool the server offers (and no other).
    const documented = documentedTools();
    for (const name of operatorTools) assert.ok(documented.has(name), `docs/mcp.md lists ${name}`);
    for (const name of documented) assert.ok(operatorTools.includes(name), `docs/mcp.md lists ${name}, offered`);
    user(s, 'What can you do on Glassdome with my viewer key, and with my operator key?');
    assistant(
      s,
      `Viewer key: ${viewerTools.join(', ')}. Operator key adds: ${operatorTools.filter((name) => !viewerTools.includes(name)).join(', ')}.`,
    );

    // An acting tool called anyway by a viewer does not exist for it.
    const refused = await s.viewer.callTool({
      name: 'destroy_lab',
      arguments: { labId: '00000000-0000-4000-8000-000000000000' },
    });
    assert.equal(refused.isError, true);
    assert.match(JSON.stringify(refused.content), /destroy_lab not found/);

    if (transport === 'stdio') {
      // A refused key stops `glassdome mcp` at once with the API's message, and nothing on stdout.
      // Run without blocking this process's event loop (its HTTP connections stay usable meanwhile).
      const refused = await new Promise<{ status: number | null; stdout: string; stderr: string }>(
        (resolve, reject) => {
          const child = spawn(process.execPath, ['apps/cli/bin/glassdome.js', 'mcp'], {
            cwd: repoRoot,
            stdio: ['pipe', 'pipe', 'pipe'],
            timeout: 60_000,
            env: {
              PATH: process.env.PATH ?? '',
              HOME: process.env.HOME ?? '/tmp',
              GLASSDOME_URL: stack.apiUrl,
              GLASSDOME_API_KEY: `gd_${'0'.repeat(40)}`,
              GLASSDOME_CONFIG: '/nonexistent/glassdome-config.yaml',
            },
          });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (chunk: Buffer) => {
            stdout += chunk.toString();
          });
          child.stderr.on('data', (chunk: Buffer) => {
            stderr += chunk.toString();
          });
          child.on('error', reject);
          child.on('close', (status) => resolve({ status, stdout, stderr }));
          child.stdin.end();
        },
      );
      assert.notEqual(refused.status, 0, refused.stderr);
      assert.equal(refused.stdout, '', 'stdout carries the protocol only');
      const direct = await api('GET', '/api/v1/me', undefined, `gd_${'0'.repeat(40)}`);
      assert.equal(direct.status, 401);
      assert.ok(refused.stderr.includes(direct.body.error.message), refused.stderr);
      assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
    }
    if (transport === 'http') {
      // No key, no MCP; and a session is answered only to the key that opened it.
      const anonymous = await fetch(`${stack.apiUrl}/mcp`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
      assert.equal(anonymous.status, 401);
      const viewerSession = (s.viewer.transport as StreamableHTTPClientTransport).sessionId!;
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
    }

    const resources = (await s.viewer.listResources()).resources.map((resource) => resource.uri);
    for (const uri of [
      'glassdome://docs/labs',
      'glassdome://schema/lab-spec',
      'glassdome://catalog',
      'glassdome://os-profiles',
    ]) {
      assert.ok(resources.includes(uri), `${uri} listed`);
    }
    const schema = await s.viewer.readResource({ uri: 'glassdome://schema/lab-spec' });
    assert.match(String((schema.contents[0] as { text: string }).text), /"vms"/);
    const profiles = await s.viewer.readResource({ uri: 'glassdome://os-profiles' });
    assert.match(String((profiles.contents[0] as { text: string }).text), /ubuntu-22\.04/);
  });

  scenarioTest(`${transport}: a refused call is an MCP tool error with the API's message, no stack trace`, async () => {
    const s = side();
    // The read tools answer a viewer (what they show is the API's; here only that they answer).
    for (const tool of ['list_labs', 'list_vms', 'list_alerts', 'overseer_report', 'queue_health']) {
      const answer = await call(s, s.viewer, tool, {}, { record: false });
      assert.equal(answer.isError, false, `${tool}: ${answer.text}`);
    }
    const missing = '00000000-0000-4000-8000-00000000abcd';
    const direct = await api('GET', `/api/v1/labs/${missing}`, undefined, operatorKey);
    assert.equal(direct.status, 404);
    const answer = await call(s, s.operator, 'get_lab', { labId: missing }, { record: false });
    assert.equal(answer.isError, true);
    assert.ok(answer.text.includes(direct.body.error.message), `${answer.text} carries the API's message`);
    assert.deepEqual(answer.data.error, {
      status: 404,
      code: direct.body.error.code,
      message: direct.body.error.message,
    });
    assert.doesNotMatch(answer.text, /\n\s+at |\.ts:\d+/, 'no stack trace');
    // A resource read the API refuses is a JSON-RPC error with the API's message.
    await assert.rejects(
      s.viewer.readResource({ uri: `glassdome://labs/${missing}` }),
      (error: Error & { code?: number }) => {
        assert.equal(error.code, -32002);
        assert.ok(error.message.includes(direct.body.error.message), error.message);
        assert.doesNotMatch(error.message, /\n\s+at /);
        return true;
      },
    );
  });

  scenarioTest(`${transport}: validate_lab_spec answers every error of a broken spec with its path`, async () => {
    const s = side();
    const broken = {
      name: 'broken lab',
      networks: [{ name: 'lan', cidr: '10.50.0.0/33' }],
      vms: [
        { name: 'target', os: 'ubuntu-22.04', networks: ['lan'], memoryMiB: 'lots' },
        { name: 'attacker', os: 'plan9', networks: ['lan'] },
      ],
    };
    user(s, 'Check this lab spec before I deploy it.');
    const answer = await call(s, s.operator, 'validate_lab_spec', { spec: broken });
    assert.equal(answer.isError, false, answer.text);
    assert.equal(answer.data.valid, false);
    const errors = answer.data.errors as { path: string; message: string }[];
    assert.deepEqual(
      errors.map((error) => error.path),
      ['name', 'networks.0.cidr', 'vms.0.memoryMiB', 'vms.1.os'],
      'every error, each with its path',
    );
    assert.ok(errors.every((error) => error.message.length > 0));
    assistant(
      s,
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
    const second = await call(s, s.operator, 'validate_lab_spec', { spec: dangling });
    const secondPaths = (second.data.errors as { path: string }[]).map((error) => error.path);
    for (const path of ['vms.0.networks.1', 'vms.1.dependsOn.0']) {
      assert.ok(secondPaths.includes(path), `${path} in ${secondPaths.join(', ')}`);
    }

    // YAML text with commands carrying a password: valid, and logged without it.
    const fixed = await call(
      s,
      s.operator,
      'validate_lab_spec',
      {
        spec: [
          'name: fixed',
          'networks: [{name: lan, cidr: 10.50.0.0/24}]',
          'vms:',
          '  - name: target',
          '    os: ubuntu-22.04',
          '    networks: [lan]',
          `    cloudInit: {runcmd: ["echo 'root:${CANARY}' | chpasswd"]}`,
          `    provision: [{run: "echo ${CANARY} > /root/flag"}]`,
          '',
        ].join('\n'),
      },
      { pick: ({ valid, totals }) => ({ valid, totals }) },
    );
    assert.equal(fixed.data.valid, true, fixed.text);
    // A secret-named field the schema does not know: refused with its path, and never logged.
    const secretive = await call(
      s,
      s.operator,
      'validate_lab_spec',
      { spec: { ...dangling, vms: [{ name: 'target', os: 'ubuntu-22.04', networks: ['lan'], password: CANARY }] } },
      { record: false },
    );
    assert.equal(secretive.data.valid, false);
    assert.ok(!secretive.text.includes(CANARY), 'the answer does not echo the secret');

    // Every call is logged with the key id, project and role, its arguments redacted.
    const lines = await waitFor(
      'the validate_lab_spec calls in the log',
      async () => {
        const found = toolCallLines(s, 'validate_lab_spec');
        return found.length >= 4 ? found : undefined;
      },
      { timeoutMs: 10_000 },
    );
    for (const line of lines) {
      assert.equal(line.project, 'default');
      assert.equal(line.role, 'operator');
    }
    const logged = lines.map((line) => line.arguments as { spec: Record<string, unknown> });
    assert.equal(
      (logged.at(-1)!.spec as { vms: { password: string }[] }).vms[0]!.password,
      '[redacted]',
      'a secret-named argument is redacted',
    );
    const yaml = (logged.at(-2)!.spec as { decodedFromText: { vms: Record<string, unknown>[] } }).decodedFromText;
    assert.equal(yaml.vms[0]!.provision, '[redacted]');
    assert.equal((yaml.vms[0]!.cloudInit as { runcmd: string }).runcmd, '[redacted]');
    assert.equal(yaml.vms[0]!.name, 'target', 'the rest of the arguments stay readable');
    assert.ok(!s.log().includes(CANARY), 'no secret in the log');
    assert.ok(!s.log().includes(operatorKey), 'the key never reaches the log');
  });

  scenarioTest(
    `${transport}: plan_lab plans a catalog lab — tasks, edges, critical path, totals against the project's quotas`,
    async () => {
      const s = side();
      user(s, `What would deploying the catalog lab ${CATALOG_LAB} take?`);
      const plan = await call(
        s,
        s.operator,
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
      type QuotaCheck = {
        project: string;
        fits: boolean;
        checks: { quota: string; limit: number; requested: number; fits: boolean }[];
      };
      const quotas = plan.data.quotas as QuotaCheck;
      assert.equal(quotas?.project, 'default', JSON.stringify(plan.data.quotas));
      assert.equal(quotas.fits, true);
      assert.equal(quotas.checks.find((check) => check.quota === 'maxVms')?.requested, totals.vms);
      assert.equal(quotas.checks.find((check) => check.quota === 'maxVcpus')?.requested, totals.vcpus);

      // A quota the lab alone exceeds: the API's dry run refuses the plan, naming the field and the quota.
      assert.equal((await api('PUT', '/api/v1/projects/default/quotas', { maxVms: 1 })).status, 200);
      try {
        const over = await call(s, s.operator, 'plan_lab', { template: CATALOG_LAB }, { record: false });
        assert.equal(over.isError, true, over.text);
        const error = over.data.error as { status: number; details: { path: string; message: string }[] };
        assert.equal(error.status, 400);
        assert.ok(
          error.details.some((issue) => issue.path === 'vms' && /quota of 1\b/.test(issue.message)),
          JSON.stringify(error.details),
        );
        assert.match(over.text, /- vms: .*quota of 1\b/, 'the field and its problem are in the error text');
      } finally {
        assert.equal((await api('PUT', '/api/v1/projects/default/quotas', { maxVms: null })).status, 200);
      }

      const catalogEntry = await s.operator.readResource({ uri: `glassdome://catalog/${CATALOG_LAB}` });
      const spec = JSON.parse(String((catalogEntry.contents[0] as { text: string }).text)).spec as Record<
        string,
        unknown
      >;
      assert.ok(Array.isArray(spec.vms), 'the catalog resource carries the full spec');
      user(s, 'And if I ran it for two students instead of one?');
      const diff = await call(
        s,
        s.operator,
        'diff_lab_spec',
        { fromTemplate: CATALOG_LAB, to: { ...spec, copies: 2 } },
        { pick: ({ identical, settings, totals }) => ({ identical, settings, totals }) },
      );
      assert.equal(diff.isError, false, diff.text);
      assert.equal(diff.data.identical, false);
      assert.deepEqual(diff.data.settings, [{ field: 'copies', from: 1, to: 2 }]);
      const diffTotals = diff.data.totals as { from: { vms: number }; to: { vms: number } };
      assert.equal(diffTotals.to.vms, 2 * diffTotals.from.vms, JSON.stringify(diffTotals));
    },
  );

  scenarioTest(
    `${transport}: deploy_lab acts only with its token — a wrong, foreign, expired or reused token and a changed plan are refused`,
    async () => {
      const s = side();
      user(s, `Deploy ${CATALOG_LAB} as ${s.labName}.`);
      const args = { template: CATALOG_LAB, name: s.labName };
      const planned = await call(s, s.operator, 'deploy_lab', args, {
        pick: ({ confirmationRequired, plan, confirmation }) => ({
          confirmationRequired,
          plan: { ...(plan as object), spec: '(the normalised spec)' },
          confirmation,
        }),
      });
      const first = tokenOf(planned);
      const countLabs = async () =>
        ((await api('GET', '/api/v1/labs?limit=500')).body.items as { name: string }[]).filter(
          (lab) => lab.name === s.labName || lab.name === `${s.labName}-other`,
        ).length;
      assert.equal(await countLabs(), 0, 'a plan deploys nothing');

      // An assistant that answers "yes" instead of the token, or alters the token: refused.
      assert.equal(
        refusalOf(await call(s, s.operator, 'deploy_lab', { ...args, confirm: 'yes' }, { record: false })),
        'malformed',
      );
      const altered = `${first.token.slice(0, -1)}${first.token.endsWith('A') ? 'B' : 'A'}`;
      assert.equal(refusalOf(await call(s, s.operator, 'deploy_lab', { ...args, confirm: altered })), 'forged');
      assert.equal(
        refusalOf(
          await call(s, s.operator, 'deploy_lab', { ...args, name: `${s.labName}-other`, confirm: first.token }),
        ),
        'plan-changed',
      );
      // A token is bound to the server that issued it: the other transport's server never did.
      const o = other();
      assert.equal(
        refusalOf(await call(o, o.operator, 'deploy_lab', { ...args, confirm: first.token }, { record: false })),
        'forged',
      );
      // Past its expiry, the token is refused.
      const wait = Date.parse(first.expiresAt) + 1_000 - Date.now();
      assert.ok(wait > 0, 'the token had not expired before this point');
      await new Promise((resolve) => setTimeout(resolve, wait));
      assert.equal(refusalOf(await call(s, s.operator, 'deploy_lab', { ...args, confirm: first.token })), 'expired');
      assert.equal(await countLabs(), 0, 'no refused call deployed anything');

      assistant(
        s,
        'That confirmation expired: here is the plan again. It deploys 2 VMs in one copy. Shall I go ahead? — User: yes.',
      );
      const second = tokenOf(
        await call(s, s.operator, 'deploy_lab', args, { pick: ({ confirmation }) => ({ confirmation }) }),
      );
      const done = await call(s, s.operator, 'deploy_lab', { ...args, confirm: second.token });
      assert.equal(done.isError, false, done.text);
      assert.equal(done.data.done, true);
      s.deployedLabId = String(done.data.labId);
      if (s.recorded) transcript.name(s.deployedLabId, `lab ${s.labName}`);
      assert.equal(refusalOf(await call(s, s.operator, 'deploy_lab', { ...args, confirm: second.token })), 'used');
      assert.equal(await countLabs(), 1, 'exactly one lab deployed');
    },
  );

  scenarioTest(`${transport}: a subscription to the lab's state resource follows it to ready`, async () => {
    const s = side();
    const uri = `glassdome://labs/${s.deployedLabId}`;
    let updates = 0;
    s.operator.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
      if (notification.params.uri === uri) updates += 1;
    });
    await s.operator.subscribeResource({ uri });
    const state = await waitFor(
      'the lab to settle, read from its resource',
      async () => {
        const read = await s.operator.readResource({ uri });
        const doc = JSON.parse(String((read.contents[0] as { text: string }).text)) as {
          lab: { status: string };
          vms: { name: string; status: string; managementIp: string | null; addresses: unknown[]; steps: unknown[] }[];
          networks: unknown[];
          tasks: { name: string; status: string }[];
          isolation: { agreed?: boolean } | null;
        };
        return ['ready', 'failed', 'degraded'].includes(doc.lab.status) ? doc : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 1_000 },
    );
    assert.equal(state.lab.status, 'ready', JSON.stringify(state));
    assert.ok(state.networks.length > 0, 'the lab state has its networks');
    assert.ok(state.isolation, `the lab state carries its isolation matrix: ${JSON.stringify(state.isolation)}`);
    for (const vm of state.vms) {
      assert.equal(vm.status, 'ready');
      assert.ok(vm.managementIp, `${vm.name} has its management address`);
      assert.ok(vm.addresses.length > 0, `${vm.name} has its lab addresses`);
      assert.ok(vm.steps.length > 0, `${vm.name} has its steps`);
    }
    await waitFor('a resource update notification', async () => updates > 0 || undefined, { timeoutMs: 10_000 });

    await s.operator.unsubscribeResource({ uri });
    user(s, 'Tell me when it is up.');
    assistant(s, `(subscribed to ${uri}; update notifications followed) ${s.labName} is ready.`);
    await call(
      s,
      s.operator,
      'get_lab',
      { labId: s.deployedLabId },
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

    const timeline = await call(s, s.viewer, 'lab_events', { labId: s.deployedLabId }, { record: false });
    assert.equal(timeline.isError, false, timeline.text);
    assert.equal(timeline.data.status, 'ready');
    assert.ok((timeline.data.events as unknown[]).length > 0, 'the lab has its timeline');

    // A quota the lab fits alone but not beside what the project already runs: plan_lab says which.
    assert.equal((await api('PUT', '/api/v1/projects/default/quotas', { maxVms: state.vms.length })).status, 200);
    try {
      user(s, `With the project's quota at ${state.vms.length} VMs, could I deploy a second ${CATALOG_LAB}?`);
      const plan = await call(
        s,
        s.operator,
        'plan_lab',
        { template: CATALOG_LAB },
        { pick: ({ quotas }) => ({ quotas }) },
      );
      assert.equal(plan.isError, false, plan.text);
      const quotas = plan.data.quotas as {
        fits: boolean;
        checks: { quota: string; limit: number; inUse: number; requested: number; fits: boolean }[];
      };
      assert.equal(quotas.fits, false, JSON.stringify(quotas));
      const vms = quotas.checks.find((check) => check.quota === 'maxVms')!;
      assert.equal(vms.limit, state.vms.length);
      assert.ok(vms.inUse >= state.vms.length, `this lab's VMs are in use: ${JSON.stringify(vms)}`);
      assert.equal(vms.fits, false);
      assert.deepEqual(
        quotas.checks.filter((check) => !check.fits).map((check) => check.quota),
        ['maxVms'],
      );
      assistant(
        s,
        `No: the project already runs ${vms.inUse} of its ${vms.limit} VMs; a second copy needs ${vms.requested} more.`,
      );
    } finally {
      assert.equal((await api('PUT', '/api/v1/projects/default/quotas', { maxVms: null })).status, 200);
    }
  });

  scenarioTest(`${transport}: extend_lab_ttl moves the lab's expiry only once confirmed`, async () => {
    const s = side();
    const before = String((await api('GET', `/api/v1/labs/${s.deployedLabId}`)).body.expiresAt);
    user(s, 'The class runs late: give the lab 12 hours from now.');
    const args = { labId: s.deployedLabId, ttl: '12h' };
    const planned = await call(s, s.operator, 'extend_lab_ttl', args, {
      pick: ({ plan, confirmation }) => ({ plan, confirmation }),
    });
    const { token } = tokenOf(planned);
    assert.equal(
      String((await api('GET', `/api/v1/labs/${s.deployedLabId}`)).body.expiresAt),
      before,
      'a plan changes nothing',
    );
    const done = await call(s, s.operator, 'extend_lab_ttl', { ...args, confirm: token });
    assert.equal(done.isError, false, done.text);
    const expiresAt = Date.parse(String(done.data.expiresAt));
    assert.ok(Math.abs(expiresAt - (Date.now() + 12 * 3600_000)) < 10 * 60_000, String(done.data.expiresAt));
    assert.equal(
      String((await api('GET', `/api/v1/labs/${s.deployedLabId}`)).body.expiresAt),
      String(done.data.expiresAt),
    );
  });

  scenarioTest(`${transport}: snapshot_lab and reset_lab act only once confirmed`, async () => {
    const s = side();
    const labId = s.deployedLabId!;
    const snapshots = async () =>
      (await api('GET', `/api/v1/labs/${labId}/snapshots`)).body.items as { name: string; status: string }[];
    await waitFor(
      'the initial snapshot of the ready lab',
      async () => (await snapshots()).find((item) => item.name === 'initial' && item.status === 'ready'),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    user(s, 'Snapshot the lab as before-class, so I can go back to it.');
    const args = { labId, name: 'before-class' };
    const planned = await call(s, s.operator, 'snapshot_lab', args, {
      pick: ({ plan, confirmation }) => ({ plan, confirmation }),
    });
    const snapToken = tokenOf(planned).token;
    assert.ok(!(await snapshots()).some((item) => item.name === 'before-class'), 'a plan snapshots nothing');
    const snapped = await call(
      s,
      s.operator,
      'snapshot_lab',
      { ...args, confirm: snapToken },
      { pick: ({ answer }) => ({ answer }) },
    );
    assert.equal(snapped.isError, false, snapped.text);
    await waitForOperation(labId, (snapped.data.answer as { operationId: string }).operationId);
    assert.ok((await snapshots()).some((item) => item.name === 'before-class' && item.status === 'ready'));

    user(s, 'The students broke it: put it back as it was when it first came up.');
    const resetPlan = await call(s, s.operator, 'reset_lab', { labId }, { pick: ({ plan }) => ({ plan }) });
    const reset = await call(
      s,
      s.operator,
      'reset_lab',
      { labId, confirm: tokenOf(resetPlan).token },
      { pick: ({ answer }) => ({ answer }) },
    );
    assert.equal(reset.isError, false, reset.text);
    const answer = reset.data.answer as { operationId: string; kind: string; vms: number };
    assert.equal(answer.vms, 2, 'every VM of the lab');
    await waitForOperation(labId, answer.operationId);
    await waitForLabStatus(labId, 'ready');
  });

  scenarioTest(
    `${transport}: explain_failure explains a lab whose guest agent never answers; retry_lab repairs it`,
    async () => {
      const s = side();
      const spec = {
        name: s.muteName,
        networks: [{ name: 'lan', cidr: s.muteCidr }],
        vms: [{ name: 'mute', os: 'ubuntu-22.04', networks: ['lan'] }],
      };
      let labId: string;
      await sim.admin('POST', '/faults', { agentNeverUp: 'all' });
      try {
        const planned = await call(s, s.operator, 'deploy_lab', { spec }, { record: false });
        const done = await call(
          s,
          s.operator,
          'deploy_lab',
          { spec, confirm: tokenOf(planned).token },
          { record: false },
        );
        assert.equal(done.isError, false, done.text);
        labId = String(done.data.labId);
        if (s.recorded) transcript.name(labId, `lab ${s.muteName}`);
        await waitForLabStatus(labId, 'failed');
      } finally {
        await sim.admin('POST', '/faults', { agentNeverUp: null });
      }
      user(s, `My lab ${s.muteName} failed. Why, and what can I do?`);
      const explained = await call(
        s,
        s.viewer,
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
        failingStep: { name: string; attempts: number; error: string; durationMs: number };
      }[];
      assert.equal(vm?.name, 'mute');
      assert.equal(vm?.failingStep.name, 'wait-agent');
      assert.ok(vm!.failingStep.attempts >= 1);
      assert.ok(vm!.failingStep.durationMs >= 0);
      assert.match(vm!.failingStep.error, /agent/);
      assert.equal(vm?.kind, 'guest-agent', vm?.failingStep.error);
      const remedies = explained.data.remedies as { kind: string; tool?: { name: string } }[];
      assert.ok(remedies.some((remedy) => remedy.kind === 'retry' && remedy.tool?.name === 'retry_lab'));
      assert.ok(remedies.some((remedy) => remedy.kind === 'check-template'));
      const events = explained.data.events as { kind: string }[];
      assert.ok(events.length > 0, 'related events are included');

      // A plan made while the lab was failed no longer holds once the lab moved on.
      assistant(
        s,
        'The guest agent of mute never answered (the step wait-agent, after every attempt). Retry it, or destroy it?',
      );
      user(s, 'Show me what destroying it would do.');
      const staleDestroy = tokenOf(
        await call(s, s.operator, 'destroy_lab', { labId }, { pick: ({ plan }) => ({ plan }) }),
      );
      user(s, 'Retry it instead: the guest agent is fixed now.');
      const retryPlan = await call(s, s.operator, 'retry_lab', { labId }, { pick: ({ plan }) => ({ plan }) });
      assert.deepEqual(
        (retryPlan.data.plan as { rerun: { name: string; failedStep: string }[] }).rerun.map((vm) => [
          vm.name,
          vm.failedStep,
        ]),
        [['mute', 'wait-agent']],
      );
      const retried = await call(s, s.operator, 'retry_lab', { labId, confirm: tokenOf(retryPlan).token });
      assert.equal(retried.isError, false, retried.text);
      assert.notEqual(await labStatus(labId), 'failed', 'the retry moved the lab on');
      user(s, 'Actually, go ahead with that destroy after all.');
      assert.equal(
        refusalOf(await call(s, s.operator, 'destroy_lab', { labId, confirm: staleDestroy.token })),
        'plan-changed',
      );
      assistant(
        s,
        'That confirmation was for the lab as it was when failed; the retry has moved it on, so it no longer holds.',
      );
      // The stale token destroyed nothing, and the retry repairs the lab.
      await waitForLabStatus(labId, 'ready');
      const destroy = tokenOf(await call(s, s.operator, 'destroy_lab', { labId }, { record: false }));
      const destroyed = await call(s, s.operator, 'destroy_lab', { labId, confirm: destroy.token }, { record: false });
      assert.equal(destroyed.data.status, 'destroying', destroyed.text);
    },
  );

  scenarioTest(`${transport}: destroy_lab tears the lab down only once confirmed`, async () => {
    const s = side();
    const labId = s.deployedLabId!;
    user(s, `We are done with ${s.labName}: tear it down.`);
    const planned = await call(
      s,
      s.operator,
      'destroy_lab',
      { labId },
      { pick: ({ plan, confirmation }) => ({ plan, confirmation }) },
    );
    const { token } = tokenOf(planned);
    assert.equal((planned.data.plan as { vms: unknown[] }).vms.length, 2);
    assert.equal(await labStatus(labId), 'ready', 'a plan destroys nothing');
    assistant(s, `This destroys both VMs of ${s.labName} and its network. Confirm? — User: yes.`);
    const done = await call(s, s.operator, 'destroy_lab', { labId, confirm: token });
    assert.equal(done.isError, false, done.text);
    assert.equal(done.data.status, 'destroying');
    assert.ok(done.data.jobId, 'the job to follow');
    await waitForLabStatus(labId, 'destroyed', 90_000);
    assistant(s, `${s.labName} is destroyed.`);
  });
}

scenario('http');
scenario('stdio');
