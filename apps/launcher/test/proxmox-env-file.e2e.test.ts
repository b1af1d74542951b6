/**
 * `pnpm start` pointed at a Proxmox by an env file (what `glassdome setup` writes): it starts no
 * simulator of its own, names that cluster in its banner, and the same processes deploy a VM there.
 * The "real" cluster is a simulator this test starts apart from the launcher, reached only through
 * what the env file says (URL, token, pinned TLS fingerprint, node SSH and its host key).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type LocalSimulator, repoRoot, simulatorEnv, startSimulator, tsxArgs } from '@glassdome/stack';
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
let cluster: LocalSimulator;
let stateDir: string;
let envFile: string;
let apiUrl: string;

before(async () => {
  database = await createTestDatabase('launcher_pve');
  redis = createRedisPrefix('launcher-pve');
  cluster = await startSimulator({ timeScale: 0.01, tls: true });
  stateDir = mkdtempSync(join(tmpdir(), 'gd-launcher-pve-'));
  envFile = join(stateDir, 'proxmox.env');
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  const vars = {
    ...simulatorEnv(cluster.info),
    TEMPLATE_VMIDS: 'ubuntu-22.04=9000',
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: redis.prefix,
    API_PORT: String(port),
  };
  writeFileSync(
    envFile,
    `${Object.entries(vars)
      .map(([name, value]) => `${name}=${value}`)
      .join('\n')}\n`,
    {
      mode: 0o600,
    },
  );
});

after(async () => {
  await cluster?.stop();
  await database?.drop();
  await redis?.cleanup();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/** The cluster's state from its admin endpoint, over its self-signed TLS (this test's own cluster). */
function clusterState(): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      `${cluster.info.adminUrl.replace(/\/$/, '')}/state`,
      { headers: { Authorization: `Bearer ${cluster.info.adminSecret}` }, rejectUnauthorized: false },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve(body));
      },
    );
    request.on('error', reject);
  });
}

test('an env file naming a Proxmox: no simulator of its own, that cluster in the banner, a VM deployed there', async () => {
  const launcher = startProcess(process.execPath, tsxArgs('apps/launcher/src/main.ts'), {
    cwd: repoRoot,
    name: 'launcher',
    // Only the env file says where things are: none of this process's own settings get in its way.
    env: {
      GLASSDOME_STATE_DIR: stateDir,
      GLASSDOME_ENV_FILE: envFile,
      GLASSDOME_ADMIN_KEY: '',
      GLASSDOME_INSTALLERS: '1',
      DATABASE_URL: '',
      REDIS_URL: '',
      QUEUE_PREFIX: '',
      API_PORT: '',
    },
  });
  try {
    await launcher.waitForOutput('Ctrl-C stops everything.', 180_000);
    const output = launcher.output();
    assert.match(output, new RegExp(`running on Proxmox at ${cluster.info.apiUrl} \\(node ${cluster.info.node}\\)`));
    assert.match(output, new RegExp(`^ {2}env file: +${envFile}$`, 'm'));
    assert.match(output, /^ {2}processes: +api, 1 installer, gateway, overseer$/m, 'no pve-sim among them');
    assert.match(output, /^ {2}Proxmox API: +.*TLS fingerprint .* pinned\)$/m);
    assert.doesNotMatch(output, /simulator admin/);
    assert.equal(existsSync(join(stateDir, 'sim')), false, 'no simulated cluster in the state directory');
    const key = /^ {2}admin key: +(\S+) /m.exec(output)?.[1];
    assert.ok(key, output);

    const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' };
    const accepted = await fetch(`${apiUrl}/api/v1/vms`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'via-env-file', os: 'ubuntu-22.04' }),
    });
    assert.equal(accepted.status, 202, await accepted.clone().text());
    const { id } = (await accepted.json()) as { id: string };
    let vm: { status: string; vmid?: number | null; error?: string | null } = { status: 'queued' };
    for (const deadline = Date.now() + 180_000; Date.now() < deadline; ) {
      vm = (await (await fetch(`${apiUrl}/api/v1/vms/${id}`, { headers })).json()) as typeof vm;
      if (vm.status === 'ready' || vm.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.equal(vm.status, 'ready', `VM ${vm.status}: ${vm.error}`);
    assert.match(await clusterState(), /via-env-file/, 'the VM is on the cluster the env file names');
  } finally {
    assert.equal(await launcher.stop(30_000), 0, 'Ctrl-C (SIGTERM) stops everything cleanly');
  }
});
