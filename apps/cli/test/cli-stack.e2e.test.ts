import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { readEnvFile } from '@glassdome/config';
import {
  createRedisPrefix,
  createTestDatabase,
  freePort,
  type RunningStack,
  startSimulator,
  startStack,
  type TestDatabase,
  type TestRedis,
  type TestSimulator,
} from '@glassdome/testkit';
import { parse } from 'yaml';
import { runCli } from '../src/program';
import { captureIo } from '../src/test-io';
import { glassdome, glassdomeInPty, screenText } from './drive';

let sim: TestSimulator;
let database: TestDatabase;
let redis: TestRedis;
let stack: RunningStack;
let home: string;
/** Destroyed by the last test only: a VMID freed early is reused by the next deploy (see the report). */
let standaloneVmId: string;

before(async () => {
  sim = await startSimulator({ tls: true });
  database = await createTestDatabase('cli');
  redis = createRedisPrefix('cli');
  stack = await startStack({
    sim: sim.info,
    databaseUrl: database.url,
    redisUrl: redis.url,
    queuePrefix: redis.prefix,
  });
  home = mkdtempSync(join(tmpdir(), 'gd-cli-home-'));
});

after(async () => {
  await stack?.stop();
  await sim?.stop();
  await database?.drop();
  await redis?.cleanup();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** A user's shell: the API found through the environment, nothing of the machine's own config. */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GLASSDOME_CONFIG: join(home, 'absent-config.yaml'),
    GLASSDOME_URL: stack.apiUrl,
    GLASSDOME_API_KEY: stack.adminKey,
    ...extra,
  };
}

/**
 * The same command in-process: for the follow-up reads, where a fresh process per call would only
 * add seconds of start-up on a loaded machine without testing anything more.
 */
async function cli(args: string[], extra: NodeJS.ProcessEnv = {}) {
  const capture = captureIo(userEnv(extra));
  const code = await runCli(args, capture.io);
  return { code, stdout: capture.stdout(), stderr: capture.stderr() };
}

function twoVmLab(name: string): string {
  const file = join(home, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      'networks:',
      '  - name: lan',
      '    cidr: 10.30.0.0/24',
      'vms:',
      '  - name: target',
      '    os: ubuntu-22.04',
      '    networks: [lan]',
      '  - name: attacker',
      '    os: ubuntu-22.04',
      '    networks: [lan]',
      '    dependsOn: [target]',
      '',
    ].join('\n'),
  );
  return file;
}

test('vm create --wait deploys a VM that list and show then see', async () => {
  const created = await glassdome(
    ['vm', 'create', '--name', 'cli-web', '--os', 'ubuntu-22.04', '--wait', '--json'],
    userEnv(),
  );
  assert.equal(created.code, 0, created.stderr);
  const vm = JSON.parse(created.stdout) as { id: string; status: string; ip: string };
  assert.equal(vm.status, 'ready');
  assert.match(vm.ip, /^\d+\.\d+\.\d+\.\d+$/);

  const listed = await cli(['vm', 'list', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.ok((JSON.parse(listed.stdout) as { id: string }[]).some((item) => item.id === vm.id));

  const shown = await cli(['vm', 'show', vm.id]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^status: +ready$/m);
  for (const step of ['reserve-vmid', 'clone', 'wait-ssh', 'verify'])
    assert.match(shown.stdout, new RegExp(`^${step} +done `, 'm'));
  standaloneVmId = vm.id;
});

test('lab deploy --watch off a terminal prints plain progress lines and every VM ready with its IP', async () => {
  const run = await glassdome(['lab', 'deploy', twoVmLab('cli-plain'), '--watch'], userEnv());
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.doesNotMatch(run.stdout, /\x1b\[/, 'no escape sequences off a terminal');
  for (const vm of ['target', 'attacker']) {
    assert.match(run.stdout, new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${vm}: clone started$`, 'm'));
    assert.match(run.stdout, new RegExp(`^${vm} +ready +\\d+\\.\\d+\\.\\d+\\.\\d+ +\\d+s$`, 'm'));
  }
  assert.match(run.stdout, /^lab cli-plain ready \(/m);

  const listed = await cli(['lab', 'list', '--json', '--status', 'ready']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.ok((JSON.parse(listed.stdout) as { name: string }[]).some((lab) => lab.name === 'cli-plain'));
});

test('lab deploy --watch on a terminal draws a bar per VM and ends with every VM ready', async () => {
  const run = await glassdomeInPty(['lab', 'deploy', twoVmLab('cli-tty'), '--watch'], userEnv());
  const screen = screenText(run.stdout);
  assert.equal(run.code, 0, screen);
  for (const vm of ['target', 'attacker']) {
    // Steps done out of the VM's step count, whatever the pipeline's length.
    assert.match(screen, new RegExp(`${vm} +=*-+ \\d+/\\d+ \\d+s +\\S+ \\(running\\)`), `${vm} bar drawn while deploying`);
    assert.match(screen, new RegExp(`${vm} +={20} (\\d+)/\\1 \\d+s +ready`), `${vm} bar reached ready`);
    assert.match(screen, new RegExp(`^${vm} +ready +\\d+\\.\\d+\\.\\d+\\.\\d+`, 'm'), `${vm} summary line`);
  }
});

test('as a user: a bad spec is exit 2 in one line, an API that is down is exit 3', async () => {
  const bad = join(home, 'bad-lab.yaml');
  writeFileSync(
    bad,
    'name: bad\nnetworks: [{name: lan, cidr: 10.40.0.0/24}]\nvms:\n  - {name: x, os: ubuntu-22.04, networks: [lan], dependsOn: [ghost]}\n',
  );
  const refused = await glassdome(['lab', 'deploy', bad, '--watch'], userEnv());
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr.trimEnd().split('\n').length, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`^error: ${bad}: invalid lab spec: vms\\.0\\.dependsOn\\.0: `));

  const closed = `http://127.0.0.1:${await freePort()}`;
  const down = await glassdome(['lab', 'list'], userEnv({ GLASSDOME_URL: closed }));
  assert.equal(down.code, 3);
  assert.match(down.stderr, new RegExp(`^error: cannot reach the API at ${closed} \\(ECONNREFUSED\\)`));
});

test('status asks the API alone: Redis, Postgres, workers per queue, jobs, and the cluster as last scanned', async () => {
  // No Redis, Postgres or Proxmox settings: everything comes from GET /api/v1/system/status.
  const run = await glassdome(['status', '--json'], userEnv());
  const checks = JSON.parse(run.stdout) as { name: string; ok: boolean; detail: string }[];
  const byName = Object.fromEntries(checks.map((check) => [check.name, check]));
  for (const name of ['api', 'redis', 'postgres', 'jobs'])
    assert.equal(byName[name]?.ok, true, JSON.stringify(byName[name]));
  assert.match(byName.jobs!.detail, /^\d+ waiting, \d+ active, \d+ delayed, \d+ failed/);
  // The test stack runs installers and a gateway but no overseer: status must say so, and fail.
  assert.match(byName.workers!.detail, /vm [1-9]/);
  assert.match(byName.workers!.detail, /no worker on .*overseer/);
  assert.equal(byName.cluster?.ok, false);
  assert.match(byName.cluster!.detail, /no overseer scan recorded yet/);
  assert.equal(run.code, 1);
});

function setupEnv(configFile: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GLASSDOME_CONFIG: configFile,
    GLASSDOME_ENV_FILE: join(dirname(configFile), 'glassdome.env'),
    GLASSDOME_URL: stack.apiUrl,
    GLASSDOME_API_KEY: stack.adminKey,
    PROXMOX_URL: sim.info.apiUrl,
    PROXMOX_NODE: sim.info.node,
    PROXMOX_TOKEN_ID: sim.info.tokenId,
    PROXMOX_TOKEN_SECRET: sim.info.tokenSecret,
    PROXMOX_SSH_HOST: `127.0.0.1:${sim.info.sshPort}`,
    PROXMOX_SSH_USER: 'root',
    PROXMOX_SSH_KEY_FILE: sim.info.sshPrivateKeyPath,
    REDIS_URL: redis.url,
    DATABASE_URL: database.url,
    ...extra,
  };
}

test('setup --non-interactive checks every connection, pins both keys and writes a 0600 env file and config', async () => {
  const configFile = join(home, 'setup-ni', 'config.yaml');
  const run = await glassdome(['setup', '--non-interactive'], setupEnv(configFile));
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  for (const check of [
    'Proxmox reachable',
    'API token valid',
    'storage',
    'bridge',
    'privileges to deploy',
    'SSH host key',
    'qm present',
    'Redis',
    'Postgres',
    'Glassdome API',
  ]) {
    assert.match(run.stdout, new RegExp(`✓ ${check}: `), check);
  }
  assert.ok(
    !run.stdout.includes(sim.info.tokenSecret) && !run.stderr.includes(sim.info.tokenSecret),
    'token secret never shown',
  );
  assert.ok(!run.stdout.includes(stack.adminKey), 'API key never shown');
  const envFile = join(dirname(configFile), 'glassdome.env');
  assert.match(run.stdout, new RegExp(`^wrote ${envFile} \\(mode 0600`, 'm'));
  assert.equal(statSync(envFile).mode & 0o777, 0o600);
  const vars = readEnvFile(envFile);
  assert.equal(vars.PROXMOX_TLS_FINGERPRINT, sim.info.tlsFingerprint);
  assert.equal(vars.PROXMOX_SSH_HOST_KEY, sim.info.sshHostKeyFingerprint);
  assert.equal(vars.PROXMOX_TOKEN_SECRET, sim.info.tokenSecret);
  assert.equal(vars.PROXMOX_STORAGE, 'local-lvm');
  assert.equal(statSync(configFile).mode & 0o777, 0o600);
  const config = parse(readFileSync(configFile, 'utf8'));
  assert.deepEqual(config, { api: { url: stack.apiUrl, key: stack.adminKey } });

  // The written config is enough on its own for the other commands.
  const { GLASSDOME_URL: _url, GLASSDOME_API_KEY: _key, ...bare } = userEnv({ GLASSDOME_CONFIG: configFile });
  const listed = await glassdome(['lab', 'list', '--json'], bare);
  assert.equal(listed.code, 0, listed.stderr);
});

test('setup --non-interactive with a wrong secret says what is wrong and how to fix it, and writes nothing', async () => {
  const configFile = join(home, 'setup-bad', 'config.yaml');
  const run = await glassdome(
    ['setup', '--non-interactive'],
    setupEnv(configFile, { PROXMOX_TOKEN_SECRET: 'not-the-secret' }),
  );
  assert.equal(run.code, 1);
  assert.match(run.stdout, /✗ API token valid: Proxmox refused token .*\n +fix: check the token id and secret/);
  assert.match(run.stderr, /^error: setup found \d+ problem\(s\) \(API token valid.*nothing was written$/m);
  assert.ok(!run.stdout.includes('not-the-secret'), 'the wrong secret is not echoed either');
  assert.equal(existsSync(configFile), false);
  assert.equal(existsSync(join(dirname(configFile), 'glassdome.env')), false);
});

test('setup in a terminal asks, checks each answer, shows the fingerprints to trust and never echoes a secret', async () => {
  const configFile = join(home, 'setup-tty', 'config.yaml');
  const envFile = join(home, 'setup-tty', 'glassdome.env');
  const env = { PATH: process.env.PATH, HOME: home, GLASSDOME_CONFIG: configFile, GLASSDOME_ENV_FILE: envFile };
  const steps = [
    { wait: 'over SSH as root on the node', send: 'n\r' },
    { wait: 'Proxmox API URL', send: `${sim.info.apiUrl}\r` },
    { wait: 'Proxmox node VMs go on', send: `${sim.info.node}\r` },
    { wait: 'storage for cloned disks', send: '\r' },
    { wait: 'bridge VM NICs attach to', send: '\r' },
    { wait: 'API token id', send: `${sim.info.tokenId}\r` },
    { wait: 'API token secret', send: `${sim.info.tokenSecret}\r` },
    { wait: 'TLS certificate is [0-9A-F:]+\\. Trust and pin it', send: 'y\r' },
    { wait: 'SSH host of the node', send: `127.0.0.1:${sim.info.sshPort}\r` },
    { wait: 'SSH user on the node', send: '\r' },
    { wait: 'SSH private key file', send: `${sim.info.sshPrivateKeyPath}\r` },
    { wait: 'SSH host key is SHA256:\\S+\\. Trust and pin it', send: 'y\r' },
    { wait: 'Redis URL', send: `${redis.url}\r` },
    { wait: 'queue key prefix', send: '\r' },
    { wait: 'Postgres URL', send: `${database.url}\r` },
    { wait: 'Glassdome API URL', send: `${stack.apiUrl}\r` },
    { wait: 'Glassdome API key', send: `${stack.adminKey}\r` },
  ];
  const run = await glassdomeInPty(['setup'], env, { steps, timeoutSeconds: 90 });
  const screen = screenText(run.stdout);
  assert.equal(run.code, 0, screen);
  assert.ok(!screen.includes(sim.info.tokenSecret), 'the token secret is masked on screen');
  assert.ok(!screen.includes(stack.adminKey), 'the API key is masked on screen');
  assert.ok(screen.includes(sim.info.tlsFingerprint!), 'the TLS fingerprint was shown');
  assert.ok(screen.includes(sim.info.sshHostKeyFingerprint), 'the SSH host key was shown');
  assert.match(screen, /✓ qm present/);
  assert.equal(statSync(configFile).mode & 0o777, 0o600);
  const config = parse(readFileSync(configFile, 'utf8'));
  assert.equal(config.api.key, stack.adminKey);
  assert.equal(statSync(envFile).mode & 0o777, 0o600);
  assert.equal(readEnvFile(envFile).PROXMOX_SSH_HOST_KEY, sim.info.sshHostKeyFingerprint);
});

test('Ctrl-C during --watch detaches without cancelling, and says how to follow or stop the lab', async () => {
  const run = await glassdomeInPty(['lab', 'deploy', twoVmLab('cli-detach'), '--watch'], userEnv(), {
    interruptOn: '\\(running\\)',
  });
  const screen = screenText(run.stdout);
  assert.equal(run.code, 0, screen);
  const detached =
    /detached: lab cli-detach keeps deploying \(\w+\); follow it again with `glassdome lab watch ([0-9a-f-]{36})`/.exec(
      screen,
    );
  assert.ok(detached, screen);
  const labId = detached[1]!;

  // Still deploying (or already done), never cancelled: following it again sees it through.
  const again = await glassdome(['lab', 'watch', labId], userEnv());
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout, /^lab cli-detach ready \(/m);

  const shown = await cli(['lab', 'show', labId]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^status: +ready$/m);
  assert.match(shown.stdout, /^target:\n {2}STEP/m);

  // A ready lab cannot be cancelled: the API's conflict comes back as one line and exit 1.
  const cancel = await cli(['lab', 'cancel', labId]);
  assert.equal(cancel.code, 1);
  assert.match(cancel.stderr, /^error: a ready lab cannot be cancelled \(HTTP 409 \w+\)\n$/);

  const destroyed = await cli(['lab', 'destroy', labId, '--json']);
  assert.equal(destroyed.code, 0, destroyed.stderr);
  assert.equal((JSON.parse(destroyed.stdout) as { status: string }).status, 'destroying');
});

test('the overseer, catalog and template commands answer as text and as JSON', async () => {
  const alerts = await cli(['alerts', '--json']);
  assert.equal(alerts.code, 0, alerts.stderr);
  assert.ok(Array.isArray(JSON.parse(alerts.stdout)));

  const report = await cli(['overseer', 'report']);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /^labs: +.*ready \d+/m);
  assert.match(report.stdout, /^vms: +/m);

  const catalog = await cli(['lab', 'templates']);
  assert.equal(catalog.code, 0, catalog.stderr);
  assert.match(catalog.stdout, /^ID +VMS +TITLE$/m);

  const planned = await cli(['lab', 'deploy', 'web-pentest-101', '--dry-run', '--json']);
  assert.equal(planned.code, 0, planned.stderr);
  assert.equal((JSON.parse(planned.stdout) as { dryRun: boolean }).dryRun, true);
  const unknownLab = await cli(['lab', 'deploy', 'no-such-lab', '--dry-run']);
  assert.equal(unknownLab.code, 2);
  assert.match(unknownLab.stderr, /^error: .*template: is not a lab in the catalog \(HTTP 400 \w+\)\n$/);

  const template = await cli(['templates', 'create', '--os', 'debian-12', '--json']);
  assert.equal(template.code, 0, template.stderr);
  const queued = JSON.parse(template.stdout) as { id: string; status: string };
  assert.equal(queued.status, 'queued');
  const templates = await cli(['templates', 'list']);
  assert.match(templates.stdout, new RegExp(`^${queued.id} +debian-12 +`, 'm'));

  const unknownAlert = await cli(['alerts', '--ack', '00000000-0000-4000-8000-000000000000']);
  assert.equal(unknownAlert.code, 2);
  assert.match(unknownAlert.stderr, /^error: alert not found \(HTTP 404 not_found\)\n$/);
});

test('vm destroy tears the standalone VM down', async () => {
  const destroyed = await cli(['vm', 'destroy', standaloneVmId]);
  assert.equal(destroyed.code, 0, destroyed.stderr);
  assert.equal(destroyed.stdout, `VM ${standaloneVmId}: destroying\n`);
});
