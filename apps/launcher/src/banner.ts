/** What `pnpm start` prints once everything runs: every address, key and port a user needs. */
import type { LocalSimulatorInfo } from '@glassdome/stack';

export interface BannerFacts {
  apiUrl: string;
  adminKey: string;
  /** Where the admin key came from, in words. */
  adminKeyFrom: string;
  envFile: { path: string; present: boolean };
  stateDir: string;
  /** e.g. `api, 2 installers, gateway, overseer` */
  processes: string;
  /** The merged environment the processes got. */
  env: Record<string, string>;
  /** Set when running on the built-in simulator. */
  sim?: LocalSimulatorInfo;
}

function lines(rows: [string, string][]): string[] {
  return rows.map(([label, value]) => `  ${`${label}:`.padEnd(17)} ${value}`);
}

function targetRows(facts: BannerFacts): [string, string][] {
  const { sim, env } = facts;
  if (sim) {
    return [
      ['simulator API', `${sim.apiUrl}/api2/json (TLS fingerprint ${sim.tlsFingerprint ?? 'none: plain HTTP'})`],
      ['simulator admin', `${sim.adminUrl} (Authorization: Bearer ${sim.adminSecret})`],
      ['sim token', `${sim.tokenId}=${sim.tokenSecret}`],
      [
        'node SSH',
        `ssh ${sim.sshUser}@127.0.0.1 -p ${sim.sshPort} -i ${sim.sshPrivateKeyPath} (host key ${sim.sshHostKeyFingerprint})`,
      ],
      ["guests' SSH", `port ${sim.guestSshPort} on each guest's IP (GET /api/v1/vms/:id shows it)`],
    ];
  }
  return [
    [
      'Proxmox API',
      `${env.PROXMOX_URL}/api2/json (token ${env.PROXMOX_TOKEN_ID ?? 'glassdome@pve!deploy'}, ${env.PROXMOX_TLS_FINGERPRINT ? `TLS fingerprint ${env.PROXMOX_TLS_FINGERPRINT} pinned` : env.PROXMOX_CA_FILE ? `CA ${env.PROXMOX_CA_FILE}` : 'plain HTTP'})`,
    ],
    [
      'node SSH',
      `${env.PROXMOX_SSH_USER ?? 'root'}@${env.PROXMOX_SSH_HOST ?? '(PROXMOX_SSH_HOST not set)'}${env.PROXMOX_SSH_HOST_KEY ? ` (host key ${env.PROXMOX_SSH_HOST_KEY} pinned)` : ''}`,
    ],
    ["guests' SSH", `port ${env.GUEST_SSH_PORT ?? '22'} on each guest's IP`],
  ];
}

export function banner(facts: BannerFacts): string {
  const where = facts.sim
    ? 'the Proxmox simulator'
    : `Proxmox at ${facts.env.PROXMOX_URL} (node ${facts.env.PROXMOX_NODE ?? 'pve01'})`;
  const body = JSON.stringify({ name: 'demo-1', os: 'ubuntu-22.04', provision: [{ run: 'apt-get install -y nginx' }] });
  return [
    '',
    `Glassdome is running on ${where}.`,
    ...lines([
      [
        'env file',
        facts.envFile.present ? facts.envFile.path : `none (no ${facts.envFile.path}: the environment and defaults)`,
      ],
      ['state', facts.stateDir],
      ['web UI', `${facts.apiUrl}/ (open it in a browser; sign in with the admin key)`],
      ['API', `${facts.apiUrl}/api/v1`],
      [
        'Bull Board',
        `${facts.apiUrl}/admin/queues (signed in to the web UI as admin, or the admin key as a Bearer token)`,
      ],
      ['admin key', `${facts.adminKey} (${facts.adminKeyFrom})`],
      ['processes', facts.processes],
      ...targetRows(facts),
    ]),
    '',
    'Deploy a VM and watch it:',
    `  curl -s -X POST ${facts.apiUrl}/api/v1/vms -H 'Authorization: Bearer ${facts.adminKey}' \\`,
    `       -H 'Content-Type: application/json' -d '${body}'`,
    `  curl -s ${facts.apiUrl}/api/v1/vms -H 'Authorization: Bearer ${facts.adminKey}'`,
    'Or with the CLI:',
    `  GLASSDOME_URL=${facts.apiUrl} GLASSDOME_API_KEY=${facts.adminKey} pnpm glassdome status`,
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}
