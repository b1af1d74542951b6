// `pnpm start`: the whole stack on one machine — the Proxmox simulator, the API, two installers, the
// gateway and the overseer — against the Redis and Postgres found on the machine. Prints what you need to use it.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addOsTemplates, OS_TEMPLATE_VMIDS, startSimulator, startStack } from '@glassdome/testkit';
import pg from 'pg';

const root = new URL('../..', import.meta.url).pathname;
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/glassdome';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = target.pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

/** Secrets of the local simulator, made once and kept (mode 0600) in the git-ignored .glassdome/. */
function localSecrets(path: string): { rootPassword: string; tokenSecret: string } {
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8'));
  const secrets = { rootPassword: randomBytes(18).toString('base64url'), tokenSecret: randomUUID() };
  writeFileSync(path, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

async function main(): Promise<void> {
  mkdirSync(join(root, '.glassdome'), { recursive: true });
  await ensureDatabase(databaseUrl);
  // The simulated cluster is saved next to the database's state, so a restart finds the VMs
  // Postgres remembers (and the overseer does not see them all as deleted).
  // Its root password and token secret are kept beside it: the saved cluster holds them.
  const secrets = localSecrets(join(root, '.glassdome', 'pve-sim-secrets.json'));
  const sim = await startSimulator({
    timeScale: Number(process.env.PVE_SIM_TIME_SCALE ?? 0.25),
    tls: true,
    env: {
      PVE_SIM_STATE_FILE: join(root, '.glassdome', 'pve-sim-state.json'),
      PVE_SIM_ROOT_PASSWORD: secrets.rootPassword,
      PVE_SIM_TOKEN_SECRET: secrets.tokenSecret,
    },
  });
  let stack: Awaited<ReturnType<typeof startStack>>;
  try {
    // The catalog's labs need Ubuntu 24.04, Debian 12 and Kali templates next to the default Ubuntu 22.04.
    await addOsTemplates(sim.info);
    stack = await startStack({
      sim: sim.info,
      databaseUrl,
      redisUrl,
      queuePrefix: process.env.QUEUE_PREFIX ?? '{glassdome}',
      apiPort: Number(process.env.API_PORT ?? 8001),
      overseer: true,
      env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', TEMPLATE_VMIDS: OS_TEMPLATE_VMIDS },
    });
  } catch (error) {
    await sim.stop();
    throw error;
  }
  const { info } = sim;
  const body = JSON.stringify({ name: 'demo-1', os: 'ubuntu-22.04', provision: [{ run: 'apt-get install -y nginx' }] });
  process.stdout.write(
    [
      '',
      'Glassdome is running on the Proxmox simulator.',
      `  API:            ${stack.apiUrl}/api/v1  (Bull Board: ${stack.apiUrl}/admin/queues)`,
      `  admin key:      ${stack.adminKey}`,
      `  simulator API:  ${info.apiUrl}/api2/json  (TLS fingerprint ${info.tlsFingerprint})`,
      `  sim token:      ${info.tokenId}=${info.tokenSecret}`,
      `  sim node SSH:   root@127.0.0.1 -p ${info.sshPort} -i ${info.sshPrivateKeyPath}`,
      '',
      'Deploy a VM and watch it:',
      `  curl -s -X POST ${stack.apiUrl}/api/v1/vms -H 'Authorization: Bearer ${stack.adminKey}' \\`,
      `       -H 'Content-Type: application/json' -d '${body}'`,
      `  curl -s ${stack.apiUrl}/api/v1/vms -H 'Authorization: Bearer ${stack.adminKey}'`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await stack.stop();
    await sim.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: Error) => {
  process.stderr.write(`start: ${error.message}\n`);
  process.exit(1);
});
