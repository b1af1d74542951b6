import { readFileSync } from 'node:fs';
import type { ProxmoxConfig } from '@glassdome/proxmox';
import { loadPrivateKey, type SshTarget } from '@glassdome/ssh';

export interface ProxmoxEnv {
  PROXMOX_URL: string;
  PROXMOX_TOKEN_ID: string;
  PROXMOX_TOKEN_SECRET?: string | undefined;
  PROXMOX_NODE: string;
  PROXMOX_TLS_FINGERPRINT?: string | undefined;
  PROXMOX_CA_FILE?: string | undefined;
  PROXMOX_SSH_HOST: string;
  PROXMOX_SSH_USER: string;
  PROXMOX_SSH_KEY_FILE?: string | undefined;
  PROXMOX_SSH_HOST_KEY?: string | undefined;
}

export class MissingSettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingSettingError';
  }
}

/** API client settings from the environment; TLS is pinned by fingerprint or CA, never skipped. */
export function proxmoxConfigFrom(env: ProxmoxEnv): ProxmoxConfig {
  if (!env.PROXMOX_TOKEN_SECRET) throw new MissingSettingError('PROXMOX_TOKEN_SECRET is required');
  const https = env.PROXMOX_URL.startsWith('https:');
  let tls: ProxmoxConfig['tls'];
  if (env.PROXMOX_TLS_FINGERPRINT) tls = { fingerprint: env.PROXMOX_TLS_FINGERPRINT };
  else if (env.PROXMOX_CA_FILE) tls = { ca: readFileSync(env.PROXMOX_CA_FILE) };
  else if (https) throw new MissingSettingError('PROXMOX_TLS_FINGERPRINT or PROXMOX_CA_FILE is required for https');
  return {
    baseUrl: env.PROXMOX_URL,
    auth: { tokenId: env.PROXMOX_TOKEN_ID, tokenSecret: env.PROXMOX_TOKEN_SECRET },
    node: env.PROXMOX_NODE,
    ...(tls ? { tls } : {}),
  };
}

/** The node's SSH daemon, with its host key pinned. */
export async function nodeSshTarget(env: ProxmoxEnv): Promise<SshTarget> {
  if (!env.PROXMOX_SSH_KEY_FILE) throw new MissingSettingError('PROXMOX_SSH_KEY_FILE is required');
  if (!env.PROXMOX_SSH_HOST_KEY)
    throw new MissingSettingError('PROXMOX_SSH_HOST_KEY (SHA256:… fingerprint) is required');
  const [host, port] = env.PROXMOX_SSH_HOST.split(':');
  return {
    host: host!,
    port: port ? Number(port) : 22,
    username: env.PROXMOX_SSH_USER,
    privateKey: await loadPrivateKey(env.PROXMOX_SSH_KEY_FILE),
    hostKey: { kind: 'pinned', fingerprints: [env.PROXMOX_SSH_HOST_KEY] },
  };
}
