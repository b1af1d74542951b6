/**
 * `glassdome setup --bootstrap-ssh` against the simulator's node: it makes the user, the
 * privilege-separated token, the roles and ACLs over SSH with pveum, says what it changed, pins the
 * TLS fingerprint and host key into the env file, and the token it made then works on the API.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readEnvFile } from '@glassdome/config';
import { SshPool } from '@glassdome/ssh';
import {
  createRedisPrefix,
  createTestDatabase,
  freePort,
  startSimulator,
  type TestDatabase,
  type TestRedis,
  type TestSimulator,
} from '@glassdome/testkit';
import { runCli } from '../src/program';
import { captureIo } from '../src/test-io';

let sim: TestSimulator;
let database: TestDatabase;
let redis: TestRedis;
let dir: string;
let closedApi: string;

before(async () => {
  sim = await startSimulator({ tls: true });
  database = await createTestDatabase('cli_bootstrap');
  redis = createRedisPrefix('cli-bootstrap');
  dir = mkdtempSync(join(tmpdir(), 'gd-cli-bootstrap-'));
  closedApi = `http://127.0.0.1:${await freePort()}`;
});

after(async () => {
  await sim?.stop();
  await database?.drop();
  await redis?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const TOKEN_ID = 'gdsetup@pve!deploy';
const envFile = () => join(dir, 'glassdome.env');

async function setup(extra: string[] = []) {
  const capture = captureIo({
    HOME: dir,
    GLASSDOME_CONFIG: join(dir, 'config.yaml'),
    GLASSDOME_ENV_FILE: envFile(),
    GLASSDOME_URL: closedApi,
    PROXMOX_URL: sim.info.apiUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: redis.prefix,
    DATABASE_URL: database.url,
  });
  const args = [
    'setup',
    '--non-interactive',
    '--bootstrap-ssh',
    `root@127.0.0.1:${sim.info.sshPort}`,
    '--ssh-key-file',
    sim.info.sshPrivateKeyPath,
    '--token-id',
    TOKEN_ID,
    ...extra,
  ];
  const code = await runCli(args, capture.io);
  return { code, stdout: capture.stdout(), stderr: capture.stderr() };
}

/** A call to the simulator's API with a token, trusting only the simulator's own CA. */
function pve(method: string, path: string, secret: string, body?: Record<string, string>) {
  return new Promise<{ status: number; data: unknown }>((resolve, reject) => {
    const form = body ? new URLSearchParams(body).toString() : undefined;
    const call = request(
      `${sim.info.apiUrl}/api2/json${path}`,
      {
        method,
        ca: sim.info.caCert!,
        headers: {
          Authorization: `PVEAPIToken=${TOKEN_ID}=${secret}`,
          ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
        },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode!, data: text ? JSON.parse(text).data : null }));
      },
    );
    call.on('error', reject);
    call.end(form);
  });
}

/** A command on the simulator's node as root, as an operator would run it over `ssh root@pve`. */
async function onSimNode(argv: string[]): Promise<string> {
  const ssh = new SshPool();
  try {
    const target = {
      host: '127.0.0.1',
      port: sim.info.sshPort,
      username: 'root',
      privateKey: readFileSync(sim.info.sshPrivateKeyPath, 'utf8'),
      hostKey: { kind: 'pinned' as const, fingerprints: [sim.info.sshHostKeyFingerprint] },
    };
    const result = await ssh.exec(target, argv);
    assert.equal(result.exitCode, 0, result.stderr);
    return result.stdout;
  } finally {
    ssh.close();
  }
}

const changed = (stdout: string) => [...stdout.matchAll(/^ {2}✓ changed: (.+)$/gm)].map((match) => match[1]!);

test('bootstrap makes user, privilege-separated token, roles and ACLs, pins both keys, and the token then works', async () => {
  const run = await setup();
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const changes = changed(run.stdout);
  assert.equal(changes[0], 'created user gdsetup@pve');
  assert.match(changes[1]!, /^created token gdsetup@pve!deploy, privilege-separated/);
  for (const role of ['GlassdomeVMs', 'GlassdomeStorage', 'GlassdomeNode', 'GlassdomeBridge']) {
    assert.ok(
      changes.some((line) => line.startsWith(`created role ${role} (`)),
      `${role} created`,
    );
  }
  for (const path of ['/vms', '/storage/local-lvm', '/nodes/pve01', '/sdn/zones/localnetwork/vmbr0']) {
    assert.ok(
      changes.some((line) => line.includes(`on ${path} to user gdsetup@pve`)),
      `${path} for the user`,
    );
    assert.ok(
      changes.some((line) => line.includes(`on ${path} to token ${TOKEN_ID}`)),
      `${path} for the token`,
    );
  }
  for (const check of ['API token valid', 'node', 'storage', 'bridge', 'privileges to deploy', 'Redis', 'Postgres']) {
    assert.match(run.stdout, new RegExp(`✓ ${check}: `), check);
  }

  assert.equal(statSync(envFile()).mode & 0o777, 0o600);
  const vars = readEnvFile(envFile());
  assert.equal(vars.PROXMOX_TOKEN_ID, TOKEN_ID);
  assert.equal(vars.PROXMOX_TLS_FINGERPRINT, sim.info.tlsFingerprint);
  assert.equal(vars.PROXMOX_SSH_HOST_KEY, sim.info.sshHostKeyFingerprint);
  assert.equal(vars.PROXMOX_SSH_HOST, `127.0.0.1:${sim.info.sshPort}`);
  assert.equal(vars.DATABASE_URL, database.url);
  const secret = vars.PROXMOX_TOKEN_SECRET!;
  assert.ok(secret && !run.stdout.includes(secret) && !run.stderr.includes(secret), 'the secret is never printed');

  const tokens = JSON.parse(
    await onSimNode(['pveum', 'user', 'token', 'list', 'gdsetup@pve', '--output-format', 'json']),
  ) as { tokenid: string; privsep: number | string }[];
  assert.equal(Number(tokens.find((row) => row.tokenid === 'deploy')?.privsep), 1);

  // The token may do what deploying does: see the template, and clone it onto the storage and bridge.
  const vms = await pve('GET', '/nodes/pve01/qemu', secret);
  assert.equal(vms.status, 200);
  assert.ok((vms.data as { vmid: number }[]).some((vm) => vm.vmid === 9000));
  const clone = await pve('POST', '/nodes/pve01/qemu/9000/clone', secret, { newid: '4242', name: 'bootstrapped' });
  assert.equal(clone.status, 200, JSON.stringify(clone.data));
  assert.match(String(clone.data), /^UPID:pve01:.*:qmclone:9000:gdsetup@pve!deploy:$/);
  // …and nothing it was not given: access control stays out of reach.
  assert.equal((await pve('POST', '/access/users', secret, { userid: 'intruder@pve' })).status, 403);
});

test('a second bootstrap changes only what differs and keeps an existing token unless --replace-token', async () => {
  const before = readFileSync(envFile(), 'utf8');
  const oldSecret = readEnvFile(envFile()).PROXMOX_TOKEN_SECRET!;
  const kept = await setup();
  assert.equal(kept.code, 1);
  assert.match(kept.stdout, /✓ unchanged: user gdsetup@pve exists/);
  assert.match(
    kept.stdout,
    /✗ token: gdsetup@pve!deploy exists, and Proxmox never shows a token's secret again\n +fix: /,
  );
  assert.match(kept.stderr, /nothing was written/);
  assert.equal(readFileSync(envFile(), 'utf8'), before);

  // A role that gained a privilege is set back to exactly Glassdome's list.
  await onSimNode(['pveum', 'role', 'modify', 'GlassdomeNode', '--privs', 'Sys.Audit,Sys.Modify']);
  const replaced = await setup(['--replace-token']);
  assert.equal(replaced.code, 0, `${replaced.stdout}\n${replaced.stderr}`);
  assert.deepEqual(changed(replaced.stdout), [
    'removed token gdsetup@pve!deploy (--replace-token)',
    'created token gdsetup@pve!deploy, privilege-separated (its secret goes to the env file only)',
    'granted GlassdomeVMs on /vms to token gdsetup@pve!deploy',
    'granted GlassdomeStorage on /storage/local-lvm to token gdsetup@pve!deploy',
    'set role GlassdomeNode to exactly Sys.Audit (it held Sys.Audit, Sys.Modify)',
    'granted GlassdomeNode on /nodes/pve01 to token gdsetup@pve!deploy',
    'granted GlassdomeBridge on /sdn/zones/localnetwork/vmbr0 to token gdsetup@pve!deploy',
  ]);
  const newSecret = readEnvFile(envFile()).PROXMOX_TOKEN_SECRET!;
  assert.notEqual(newSecret, oldSecret);
  assert.equal((await pve('GET', '/nodes', oldSecret)).status, 401, 'the old secret no longer works');
  assert.equal((await pve('GET', '/nodes', newSecret)).status, 200);
});
