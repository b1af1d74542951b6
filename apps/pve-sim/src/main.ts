/**
 * `pnpm sim`: a Proxmox VE 8 simulator with the default cluster. Configured by PVE_SIM_* (see
 * env.ts and README.md). Prints one `pve-sim listening …` line when ready and exits cleanly on
 * SIGTERM/SIGINT (saving PVE_SIM_STATE_FILE if set).
 */
import { loadEnv } from '@glassdome/config';
import { createLogger } from '@glassdome/logger';
import { simEnvSchema } from './env';
import { defaultExtensions } from './extensions';
import { startSimulator } from './index';
import type { Latencies } from './options';

const env = loadEnv(simEnvSchema, 'pve-sim');
const log = createLogger({ name: 'pve-sim', level: env.LOG_LEVEL, format: env.LOG_FORMAT });

function parseJson(name: string, text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    process.stderr.write(`pve-sim: ${name} must be a JSON object\n`);
    process.exit(78);
  }
}

const running = await startSimulator({
  port: env.PVE_SIM_PORT,
  host: env.PVE_SIM_HOST,
  tls: env.PVE_SIM_TLS,
  sshPort: env.PVE_SIM_SSH_PORT,
  guestSshPort: env.PVE_SIM_GUEST_SSH_PORT,
  timeScale: env.PVE_SIM_TIME_SCALE,
  seed: env.PVE_SIM_SEED,
  nodes: env.PVE_SIM_NODES.split(','),
  storageCapacityGiB: env.PVE_SIM_STORAGE_GIB,
  guestSubnet: env.PVE_SIM_GUEST_SUBNET,
  errorEnvelope: env.PVE_SIM_ERROR_ENVELOPE,
  latencies: parseJson('PVE_SIM_LATENCIES', env.PVE_SIM_LATENCIES) as Partial<Latencies> | undefined,
  faults: parseJson('PVE_SIM_FAULTS', env.PVE_SIM_FAULTS),
  ...(env.PVE_SIM_TOKEN_SECRET ? { tokenSecret: env.PVE_SIM_TOKEN_SECRET } : {}),
  ...(env.PVE_SIM_ROOT_PASSWORD ? { rootPassword: env.PVE_SIM_ROOT_PASSWORD } : {}),
  ...(env.PVE_SIM_ADMIN_SECRET ? { adminSecret: env.PVE_SIM_ADMIN_SECRET } : {}),
  ...(env.PVE_SIM_STATE_FILE ? { stateFile: env.PVE_SIM_STATE_FILE } : {}),
  ...(env.PVE_SIM_INFO_FILE ? { infoFile: env.PVE_SIM_INFO_FILE } : {}),
  extensions: defaultExtensions(env, log),
});

log.info(
  { apiUrl: running.apiUrl, node: running.node, timeScale: env.PVE_SIM_TIME_SCALE, sshPort: running.sshPort },
  'simulator started',
);
// The credentials are printed to the terminal on purpose (like `pveum user token add` shows its
// value once); they never go through the logger.
process.stdout.write(
  [
    `pve-sim listening on ${running.apiUrl}/api2/json`,
    running.tlsFingerprint ? `  TLS fingerprint (SHA-256): ${running.tlsFingerprint}` : '  plain HTTP (PVE_SIM_TLS=0)',
    `  API token:  PVEAPIToken=${running.tokenId}=${running.tokenSecret}`,
    `  root@pam password: ${running.rootPassword}`,
    `  admin:      ${running.adminUrl} (Authorization: Bearer <admin secret>)`,
    `  default:    node ${running.node}, storage ${running.storage}, bridge ${running.bridge}, template ${running.templateVmid}`,
    `  ssh:        root@${env.PVE_SIM_HOST} -p ${running.sshPort}, host key ${running.sshHostKeyFingerprint}${running.info.sshPrivateKeyPath ? `, key ${running.info.sshPrivateKeyPath}` : ''}`,
    '',
  ].join('\n'),
);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  await running.stop();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
